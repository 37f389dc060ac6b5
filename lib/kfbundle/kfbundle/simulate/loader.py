"""Load each charm's `src/` in isolation: charms share module names (`charm`, templates...)."""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

_MAIN_CALL = re.compile(r"ops\.main(?:\.main)?\(\s*([A-Za-z_][A-Za-z0-9_]*)")


class CharmLoadError(Exception):
    """A charm's code cannot be imported (message says which and why)."""


class CharmLoader:
    """Imports charms one at a time and swaps their modules in and out of `sys.modules`."""

    def __init__(self) -> None:
        self._dirs: dict[str, list[Path]] = {}
        self._saved: dict[str, dict[str, ModuleType]] = {}
        self._active: str | None = None
        self._before: set[str] = set()
        self.charm_types: dict[str, type] = {}

    def _owned(self, name: str, module: ModuleType | None) -> bool:
        file = getattr(module, "__file__", None)
        if not file:
            return False
        prefixes = tuple(str(d) + "/" for d in self._dirs[name])
        return str(Path(file).resolve()).startswith(prefixes)

    def _deactivate(self) -> None:
        if self._active is None:
            return
        saved = self._saved.setdefault(self._active, {})
        # Only modules imported while this charm was active can be its own.
        for mod_name in (set(sys.modules) - self._before) | set(saved):
            module = sys.modules.get(mod_name)
            if module is not None and self._owned(self._active, module):
                saved[mod_name] = module
                del sys.modules[mod_name]
        for d in self._dirs[self._active]:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(d))
        self._active = None

    def _activate(self, name: str) -> None:
        if self._active == name:
            return
        self._deactivate()
        for d in reversed(self._dirs[name]):
            sys.path.insert(0, str(d))
        self._before = set(sys.modules)
        sys.modules.update(self._saved.get(name, {}))
        self._active = name

    @contextlib.contextmanager
    def activated(self, name: str) -> Iterator[None]:
        """Make `name`'s modules the importable ones for the duration of the block."""
        self._activate(name)
        yield

    def release(self) -> None:
        """Remove every loaded charm's modules and paths (the process is as before)."""
        self._deactivate()

    def load(self, name: str, charm_dir: Path) -> type:
        """Import `charm_dir/src/charm.py` and return its CharmBase subclass.

        Raises:
            CharmLoadError: the import fails or no charm class is found.
        """
        import ops

        src = (charm_dir / "src").resolve()
        dirs = [src]
        if (charm_dir / "lib").is_dir():
            dirs.append((charm_dir / "lib").resolve())
        self._dirs[name] = dirs
        self._activate(name)
        try:
            module = importlib.import_module("charm")
        except Exception as err:
            self._saved.pop(name, None)
            raise CharmLoadError(
                f"charms/{charm_dir.name}/src/charm.py cannot be imported:"
                f" {type(err).__name__}: {err}"
            ) from err
        classes = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, ops.CharmBase)
            and obj.__module__ == module.__name__
        ]
        if len(classes) > 1:
            called = _MAIN_CALL.findall(Path(str(module.__file__)).read_text())
            classes = [c for c in classes if c.__name__ in called] or classes
        if not classes:
            raise CharmLoadError(f"charms/{charm_dir.name}/src/charm.py defines no CharmBase")
        self.charm_types[name] = classes[0]
        return classes[0]

    def module(self, name: str, module_name: str) -> Any:
        """A module of charm `name` (imported on demand), or None if it has none."""
        self._activate(name)
        try:
            return importlib.import_module(module_name)
        except ImportError:
            return None
