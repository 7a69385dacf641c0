"""Fixtures for profile tests."""

from __future__ import annotations

import pytest

from jingzhun.warehouse import Warehouse


@pytest.fixture
def mem_wh():
    """An in-memory warehouse with the canonical tables."""
    with Warehouse(":memory:") as w:
        yield w
