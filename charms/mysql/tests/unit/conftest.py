"""Fixtures of the mysql charm's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import mariadb_server


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[mariadb_server.RunningServer]:
    """A real MariaDB server for the whole session (skipped without the Debian package,
    except in CI, where a missing server fails the tests)."""
    binaries = mariadb_server.find_binaries()
    if binaries is None:
        if mariadb_server.in_ci():
            pytest.fail(mariadb_server.SKIP_REASON + " (CI must run the real-database tests)")
        pytest.skip(mariadb_server.SKIP_REASON)
    proc, server = mariadb_server.start(tmp_path_factory.mktemp("mariadb"), *binaries)
    try:
        yield server
    finally:
        mariadb_server.stop(proc)
