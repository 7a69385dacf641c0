"""Shared fixtures: a throw-away warehouse, a key file, and the shared real data sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from jingzhun.ingest.pseudonymise import load_secrets
from jingzhun.warehouse import Warehouse

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated_keys(tmp_path_factory, monkeypatch):
    """Never touch the user's ~/.jingzhun key in tests."""
    monkeypatch.setenv("JINGZHUN_KEY_FILE", str(tmp_path_factory.mktemp("keys") / "secret.key"))


@pytest.fixture
def secrets(tmp_path):
    """Pseudonym/vault keys in a fresh key file."""
    return load_secrets(tmp_path / "secret.key")


@pytest.fixture
def wh(tmp_path):
    """A fresh warehouse file."""
    with Warehouse(tmp_path / "test.duckdb") as w:
        yield w


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
