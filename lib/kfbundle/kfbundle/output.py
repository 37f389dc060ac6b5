"""The CLI's output layer: everything `kfbundle` shows a person goes through here."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TextIO


class Output:
    """Writes results to stdout and progress/warnings to stderr.

    Args:
        out: where results go (default sys.stdout).
        err: where progress, warnings and errors go (default sys.stderr).
        quiet: suppress progress lines.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, quiet: bool = False):
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self._start = time.monotonic()

    def line(self, text: str = "") -> None:
        """Write one result line."""
        self.out.write(text + "\n")
        self.out.flush()

    def progress(self, text: str) -> None:
        """Write a progress line with the elapsed time (unless quiet)."""
        if self.quiet:
            return
        elapsed = time.monotonic() - self._start
        self.err.write(f"[{elapsed:6.1f}s] {text}\n")
        self.err.flush()

    def warn(self, text: str) -> None:
        """Write a warning."""
        self.err.write(f"warning: {text}\n")
        self.err.flush()

    def error(self, text: str) -> None:
        """Write an error in plain words."""
        self.err.write(f"error: {text}\n")
        self.err.flush()

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        """Write an aligned table (the last column is not padded)."""
        widths = [len(h) for h in headers]
        for row in rows:
            for i, cell in enumerate(row[:-1]):
                widths[i] = max(widths[i], len(cell))
        for row in [list(headers), *[list(r) for r in rows]]:
            cells = [c.ljust(widths[i]) for i, c in enumerate(row[:-1])]
            self.line("  ".join([*cells, row[-1]]).rstrip())
