"""Fixtures for kfbundle's tests: the checkout's sources."""

from __future__ import annotations

import pytest
from kfbundle.sources import Sources, load_sources


@pytest.fixture(scope="session")
def sources() -> Sources:
    """The bundle sources of this checkout."""
    return load_sources()
