"""Shared data of the BTYD model tests: the CDNOW 1/10 sample's 39-week calibration summary, as
lifetimes ships it and as built here from the raw file in ``../shared`` (skipped when absent)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.predict.btyd.helpers import build_cdnow_summary

SHARED = Path(__file__).resolve().parents[3] / ".." / "shared"


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """lifetimes' CDNOW summary: frequency, recency, T (weeks, 2 decimals), monetary_value."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = pytest.importorskip("lifetimes.datasets")
    return datasets.load_cdnow_summary_data_with_monetary_value()


@pytest.fixture(scope="session")
def cdnow_built() -> pd.DataFrame:
    """The summary built from ``../shared/data/cdnow/CDNOW_sample.txt``; skips when absent."""
    path = SHARED / "data" / "cdnow" / "CDNOW_sample.txt"
    if not path.is_file():
        pytest.skip("../shared/data/cdnow is absent")
    return build_cdnow_summary(path)
