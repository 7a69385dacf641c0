"""Shared fixtures: a throw-away warehouse, a key file, the shared real data sets, and one local
Spark session for the whole run."""

from __future__ import annotations

import shutil
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


@pytest.fixture(scope="session")
def spark_con(tmp_path_factory):
    """``(spark, ibis_backend)``: one local Spark session (session time zone UTC, so Spark
    ``TIMESTAMP`` values are the canonical naive UTC times), or skip when pyspark or java is
    missing. Started once per test run -- a Spark start takes seconds.

    Tests feed Spark a few hundred rows, where compiling Java for every query costs more than
    running it: code generation and adaptive re-planning are off (interpreted evaluation gives the
    same results; it roughly halves the profile tests' time).
    """
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("java is not on PATH")
    import ibis
    from pyspark.sql import SparkSession

    spark = (SparkSession.builder.master("local[2]").appName("jingzhun-tests")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "2")
             .config("spark.sql.codegen.wholeStage", "false")
             .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
             .config("spark.sql.adaptive.enabled", "false")
             .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark, ibis.pyspark.connect(spark)
    finally:
        spark.stop()


@pytest.fixture(scope="session")
def simulated_retailer(tmp_path_factory):
    """``make(n_customers, seed) -> (warehouse path, truth.json as a dict)``: a simulated retailer
    ingested and profiled (in its time zone) once per test run and size; tests copy the file
    (``copy_warehouse``) before they write to it."""
    import json

    from jingzhun import pipeline
    from jingzhun.ingest.pseudonymise import load_secrets
    from jingzhun.simulate.retailer import TIMEZONE

    built: dict[tuple[int, int], tuple[Path, dict]] = {}

    def make(n_customers: int, seed: int) -> tuple[Path, dict]:
        if (n_customers, seed) not in built:
            out = tmp_path_factory.mktemp(f"retailer_{n_customers}_{seed}")
            db, _ = pipeline.simulate_and_ingest(out, n_customers=n_customers, seed=seed,
                                                 secrets=load_secrets(out / "secret.key"))
            with Warehouse(db) as wh:
                pipeline.profile_build(wh, timezone=TIMEZONE)
            truth = json.loads((out / "data" / "truth.json").read_text(encoding="utf-8"))
            built[n_customers, seed] = (db, truth)
        return built[n_customers, seed]

    return make


def copy_warehouse(source: Path, folder: Path) -> Path:
    """A copy of the warehouse file ``source`` in ``folder``, for a test that writes to it."""
    path = folder / "w.duckdb"
    shutil.copy(source, path)
    return path


HILLSTROM_CSV = (SHARED_DATA / "hillstrom"
                 / "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv")


@pytest.fixture(scope="session")
def hillstrom_warehouse(tmp_path_factory) -> Path:
    """Hillstrom's e-mail test ingested once per run through its built-in source (campaign
    ``hillstrom_2008``); skips when ../shared/data/hillstrom is absent. Copy it before writing."""
    if not HILLSTROM_CSV.is_file():
        pytest.skip("../shared/data/hillstrom is absent")
    tmp = tmp_path_factory.mktemp("hillstrom_warehouse")
    from jingzhun.ingest.sources import ingest_source

    with Warehouse(tmp / "wh.duckdb") as wh:
        ingest_source("hillstrom", wh, HILLSTROM_CSV, secrets=load_secrets(tmp / "secret.key"))
    return tmp / "wh.duckdb"
