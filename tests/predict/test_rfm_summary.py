"""``rfm_summary`` reproduces lifetimes' summaries and the published CDNOW summary, applies the
profile's purchase rule, and gives the same table on Spark as on DuckDB.

lifetimes 0.11.3's ``summary_data_from_transaction_data`` and ``calibration_and_holdout_data``
run under pandas 3 with ``freq="D"``, so they are the oracle for frequency, recency, T,
monetary_value and frequency_holdout. Its ``monetary_value_holdout`` is the mean over raw
transaction *rows* (its calibration value is the mean over *days*); ours is the mean over days in
both periods, so the holdout value is checked against a small independent pandas reference.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import ConfigError
from jingzhun.predict.rfm_summary import rfm_summary
from jingzhun.warehouse import table_ddl

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAL_END, OBS_END = date(1997, 9, 30), date(1998, 6, 30)


def orders_table(con, rows: pd.DataFrame, name: str = "orders") -> ibis.Table:
    """A canonical ``orders`` table in DuckDB holding ``rows`` (columns: customer_id, ordered_at,
    total_amount, optional status; others get defaults)."""
    df = rows.reset_index(drop=True).copy()
    df["order_id"] = [f"o{i}" for i in range(len(df))]
    df["status"] = df["status"] if "status" in df else "completed"
    df["currency"] = "USD"
    df["ingest_run_id"] = "r1"
    con.raw_sql(table_ddl(name).replace('"orders"', f'"{name}"'))
    con.insert(name, df)
    return con.table(name)


def summary_frame(table: ibis.Table) -> pd.DataFrame:
    return table.to_pandas().sort_values("customer_id").set_index("customer_id")


# --------------------------------------------------------------------------- CDNOW


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """CDNOW's 1/10 sample as transactions: customer (sample id), date, dollar value."""
    path = SHARED / "cdnow" / "CDNOW_sample.txt"
    if not path.is_file():
        pytest.skip("../shared/data/cdnow is absent")
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str,
                      names=["original_id", "id", "date", "cds", "value"])
    return pd.DataFrame({"customer_id": raw["id"].astype(int).astype(str),
                         "date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                         "value": raw["value"].astype(float)})


@pytest.fixture(scope="module")
def cdnow_summary(cdnow) -> pd.DataFrame:
    con = ibis.duckdb.connect()
    # an afternoon order time: the summary is about days, not times of day
    rows = pd.DataFrame({"customer_id": cdnow["customer_id"],
                         "ordered_at": cdnow["date"] + pd.Timedelta(hours=15, minutes=7),
                         "total_amount": cdnow["value"]})
    return summary_frame(rfm_summary(orders_table(con, rows), unit="W", observation_end=OBS_END,
                                     calibration_end=CAL_END))


@pytest.mark.shared
def test_cdnow_calibration_summary_equals_the_published_one(cdnow_summary):
    lifetimes_datasets = pytest.importorskip("lifetimes.datasets")
    ref = lifetimes_datasets.load_cdnow_summary_data_with_monetary_value()
    ref.index = ref.index.astype(str)
    assert len(cdnow_summary) == len(ref) == 2357
    got = cdnow_summary.loc[ref.index]
    assert (got["frequency"] == ref["frequency"]).all()
    assert got["frequency"].sum() == 2457
    for col in ("recency", "T"):
        np.testing.assert_array_equal(got[col].round(2), ref[col], err_msg=col)
    # the shipped file rounds halves up (22.345 -> 22.35), numpy to the float's nearest
    np.testing.assert_allclose(got["monetary_value"], ref["monetary_value"], rtol=0, atol=0.005 + 1e-9)
    assert (got["duration_holdout"] == 39.0).all()


@pytest.mark.shared
def test_cdnow_holdout_equals_lifetimes(cdnow, cdnow_summary):
    utils = pytest.importorskip("lifetimes.utils")
    ref = utils.calibration_and_holdout_data(
        cdnow, "customer_id", "date", calibration_period_end=str(CAL_END),
        observation_period_end=str(OBS_END), freq="D", freq_multiplier=7, monetary_value_col="value")
    got = cdnow_summary.loc[ref.index]
    assert cdnow_summary["frequency_holdout"].sum() == ref["frequency_holdout"].sum() == 1882
    for ours, theirs in [("frequency", "frequency_cal"), ("recency", "recency_cal"), ("T", "T_cal"),
                         ("monetary_value", "monetary_value_cal"),
                         ("frequency_holdout", "frequency_holdout"),
                         ("duration_holdout", "duration_holdout")]:
        np.testing.assert_allclose(got[ours], ref[theirs], rtol=1e-12, err_msg=ours)
    want = reference(cdnow, CAL_END, OBS_END, 7.0)
    np.testing.assert_allclose(got["monetary_value_holdout"], want.loc[ref.index, "monetary_value_holdout"],
                               rtol=1e-12)


# --------------------------------------------------------------------------- random transactions


def reference(tx: pd.DataFrame, cal_end: date, obs_end: date | None, unit_days: float) -> pd.DataFrame:
    """Independent pandas summary of ``tx`` (customer_id, date, value): days merged, repeat
    days' mean value, holdout days' mean value. With ``obs_end=None``, no holdout."""
    days = (tx.assign(day=tx["date"].dt.normalize())
            .groupby(["customer_id", "day"], as_index=False)["value"].sum())
    cal = days[days["day"] <= pd.Timestamp(cal_end)].sort_values(["customer_id", "day"])
    g = cal.groupby("customer_id")
    first, last = g["day"].min(), g["day"].max()
    n = g.size()
    repeat_total = g["value"].sum() - g["value"].first()
    out = pd.DataFrame({
        "frequency": n - 1,
        "recency": (last - first).dt.days / unit_days,
        "T": (pd.Timestamp(cal_end) - first).dt.days / unit_days,
        "monetary_value": (repeat_total / (n - 1)).where(n > 1, 0.0),
    })
    if obs_end is not None:
        hold = days[(days["day"] > pd.Timestamp(cal_end)) & (days["day"] <= pd.Timestamp(obs_end))]
        h = hold.groupby("customer_id")["value"].agg(["size", "mean"])
        out["frequency_holdout"] = h["size"].reindex(out.index).fillna(0).astype(int)
        out["monetary_value_holdout"] = h["mean"].reindex(out.index).fillna(0.0)
    return out


@pytest.fixture(scope="module")
def random_tx() -> pd.DataFrame:
    """2,000 customers, ~12k orders over 2023-2024 at random times of day (several a day for
    some), values with cents."""
    rng = np.random.default_rng(42)
    n_orders = rng.geometric(0.15, 2000)
    cust = np.repeat([f"c{i:04d}" for i in range(2000)], n_orders)
    start = rng.integers(0, 600, 2000)
    day = np.repeat(start, n_orders) + rng.geometric(0.03, cust.size) * (rng.random(cust.size) < 0.8)
    seconds = rng.integers(0, 86400, cust.size)
    at = pd.Timestamp("2023-01-01") + pd.to_timedelta(day * 86400 + seconds, unit="s")
    value = np.round(rng.gamma(2.0, 30.0, cust.size), 2)
    return pd.DataFrame({"customer_id": cust, "ordered_at": at, "value": value})


@pytest.fixture(scope="module")
def random_orders(random_tx):
    con = ibis.duckdb.connect()
    return orders_table(con, random_tx.rename(columns={"value": "total_amount"}))


@pytest.mark.parametrize("unit, days", [("W", 7.0), ("D", 1.0)])
def test_summary_equals_lifetimes(random_tx, random_orders, unit, days):
    utils = pytest.importorskip("lifetimes.utils")
    end = date(2024, 6, 30)
    got = summary_frame(rfm_summary(random_orders, unit=unit, observation_end=end))
    assert list(got.columns) == ["frequency", "recency", "T", "monetary_value", "first_purchase_at"]
    tx = random_tx[random_tx["ordered_at"] < pd.Timestamp(end) + pd.Timedelta(days=1)]
    ref = utils.summary_data_from_transaction_data(
        tx.assign(date=tx["ordered_at"].dt.normalize()), "customer_id", "date",
        monetary_value_col="value", observation_period_end=str(end), freq="D", freq_multiplier=days)
    assert sorted(got.index) == sorted(ref.index)
    got = got.loc[ref.index]
    for col in ("frequency", "recency", "T", "monetary_value"):
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-12, atol=1e-9, err_msg=col)
    first = tx.groupby("customer_id")["ordered_at"].min()
    assert (got["first_purchase_at"] == first.loc[ref.index]).all()


def test_calibration_and_holdout_equal_lifetimes(random_tx, random_orders):
    utils = pytest.importorskip("lifetimes.utils")
    cal_end, obs_end = date(2024, 1, 31), date(2024, 9, 30)
    got = summary_frame(rfm_summary(random_orders, unit="W", observation_end=obs_end,
                                    calibration_end=cal_end))
    assert list(got.columns) == ["frequency", "recency", "T", "monetary_value", "frequency_holdout",
                                 "monetary_value_holdout", "duration_holdout", "first_purchase_at"]
    # lifetimes cuts the calibration at the calibration end's midnight: give it dates
    tx = random_tx.assign(date=random_tx["ordered_at"].dt.normalize())
    ref = utils.calibration_and_holdout_data(
        tx, "customer_id", "date", calibration_period_end=str(cal_end),
        observation_period_end=str(obs_end), freq="D", freq_multiplier=7, monetary_value_col="value")
    assert sorted(got.index) == sorted(ref.index)
    got = got.loc[ref.index]
    for ours, theirs in [("frequency", "frequency_cal"), ("recency", "recency_cal"), ("T", "T_cal"),
                         ("monetary_value", "monetary_value_cal"),
                         ("frequency_holdout", "frequency_holdout"),
                         ("duration_holdout", "duration_holdout")]:
        np.testing.assert_allclose(got[ours], ref[theirs], rtol=1e-12, atol=1e-9, err_msg=ours)
    want = reference(tx, cal_end, obs_end, 7.0).loc[ref.index]
    for col in want.columns:
        np.testing.assert_allclose(got[col], want[col], rtol=1e-12, atol=1e-9, err_msg=col)
    assert got["frequency_holdout"].sum() > 0


# --------------------------------------------------------------------------- rules


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day) + pd.Timedelta(hours=hour)


RULE_ROWS = pd.DataFrame([
    # a: two orders on day 1 (one day, value 30), a cancelled order, a credit note, a returned
    #    order (a purchase), an order after the observation end
    ("a", at("2024-01-01", 9), 10, "completed"), ("a", at("2024-01-01", 20), 20, "completed"),
    ("a", at("2024-01-05"), 500, "cancelled"), ("a", at("2024-01-06"), -40, "completed"),
    ("a", at("2024-01-08"), 50, "returned"), ("a", at("2024-03-01"), 70, "completed"),
    ("a", at("2024-04-01"), 1, "completed"),
    # b: only cancelled and negative orders -> no row
    ("b", at("2024-01-02"), 15, "cancelled"), ("b", at("2024-01-03"), -15, "completed"),
    # c: first purchase after the calibration end -> only in the plain summary
    ("c", at("2024-02-10"), 25, "completed"),
    # d: a purchase on the calibration end day (included) and a holdout purchase
    ("d", at("2024-01-31", 23), 5, "completed"), ("d", at("2024-02-14"), 8, "completed"),
    ("d", at("2024-02-14", 18), 4, "completed"), ("d", at("2024-03-31", 23), 6, "completed"),
    # e: a zero-value order is a purchase
    ("e", at("2024-01-10"), 0, "completed"),
    # an order without a customer is nobody's purchase
    (None, at("2024-01-10"), 9, "completed"),
], columns=["customer_id", "ordered_at", "total_amount", "status"])
RULE_CAL, RULE_END = date(2024, 1, 31), date(2024, 3, 31)


@pytest.fixture(scope="module")
def rule_orders():
    return orders_table(ibis.duckdb.connect(), RULE_ROWS)


def test_purchase_rule_and_same_day_merge(rule_orders):
    got = summary_frame(rfm_summary(rule_orders, unit="D", observation_end=RULE_END))
    assert list(got.index) == ["a", "c", "d", "e"]
    a = got.loc["a"]
    assert a["frequency"] == 2  # 2024-01-08 and 2024-03-01 after the first day
    assert a["recency"] == 60 and a["T"] == 90
    assert a["monetary_value"] == pytest.approx((50 + 70) / 2)
    assert a["first_purchase_at"] == pd.Timestamp("2024-01-01 09:00")
    d = got.loc["d"]
    assert (d["frequency"], d["recency"], d["T"]) == (2, 60, 60)
    assert d["monetary_value"] == pytest.approx((12 + 6) / 2)
    assert got.loc["e", "frequency"] == 0 and got.loc["e", "monetary_value"] == 0.0
    assert got.loc["c", "T"] == (RULE_END - date(2024, 2, 10)).days
    assert got["frequency"].dtype == np.int64 and got["T"].dtype == np.float64


def test_calibration_excludes_later_first_purchases(rule_orders):
    got = summary_frame(rfm_summary(rule_orders, unit="W", observation_end=RULE_END,
                                    calibration_end=RULE_CAL))
    assert list(got.index) == ["a", "d", "e"]
    assert got.loc["a", "frequency"] == 1 and got.loc["a", "frequency_holdout"] == 1
    assert got.loc["a", "monetary_value_holdout"] == pytest.approx(70)
    d = got.loc["d"]
    assert (d["frequency"], d["T"], d["frequency_holdout"]) == (0, 0.0, 2)
    assert d["monetary_value_holdout"] == pytest.approx((12 + 6) / 2)
    assert got.loc["e", "frequency_holdout"] == 0 and got.loc["e", "monetary_value_holdout"] == 0.0
    assert (got["duration_holdout"] == (RULE_END - RULE_CAL).days / 7).all()


def test_local_days_in_a_time_zone(rule_orders):
    """In Shanghai (UTC+8), orders after 16:00 UTC fall on the next local day: d's 2024-01-31
    purchase moves into the holdout (d leaves the calibration table), its 2024-03-31 one past the
    observation end and its two orders of 2024-02-14 onto two local days; a's 20:00 order of
    2024-01-01 moves to 2024-01-02, a repeat purchase day of its own."""
    got = summary_frame(rfm_summary(rule_orders, unit="D", observation_end=RULE_END,
                                    calibration_end=RULE_CAL, timezone="Asia/Shanghai"))
    assert list(got.index) == ["a", "e"]
    assert got.loc["a", "frequency"] == 2 and got.loc["a", "recency"] == 7
    plain = summary_frame(rfm_summary(rule_orders, unit="D", observation_end=RULE_END,
                                      timezone="Asia/Shanghai"))
    assert (plain.loc["d", "frequency"], plain.loc["d", "T"]) == (2, 59)


@pytest.mark.parametrize("kwargs, bad", [
    ({"observation_end": "2024-03-31"}, "'2024-03-31'"),
    ({"observation_end": datetime(2024, 3, 31)}, "datetime"),
    ({"observation_end": RULE_END, "unit": "M"}, "'M'"),
    ({"observation_end": RULE_END, "calibration_end": RULE_END}, "2024-03-31"),
])
def test_bad_arguments(rule_orders, kwargs, bad):
    with pytest.raises(ConfigError, match=bad):
        rfm_summary(rule_orders, **kwargs)


# --------------------------------------------------------------------------- Spark


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")  # pyspark 4.0, pandas 3
def test_spark_gives_the_duckdb_table(spark_con, random_tx):
    spark, con = spark_con
    rows = pd.concat([RULE_ROWS, random_tx.iloc[:2000].rename(columns={"value": "total_amount"})
                      .assign(status="completed")], ignore_index=True)
    want_con = ibis.duckdb.connect()
    duck = orders_table(want_con, rows)
    records = [(f"o{i}", None if pd.isna(r.customer_id) else r.customer_id,
                r.ordered_at.to_pydatetime(), r.status, "USD", Decimal(str(r.total_amount)), None, "r1")
               for i, r in enumerate(rows.itertuples())]
    schema = ("order_id string, customer_id string, ordered_at timestamp, status string, "
              "currency string, total_amount decimal(18,4), discount_amount decimal(18,4), "
              "ingest_run_id string")
    spark.createDataFrame(records, schema).createOrReplaceTempView("rfm_orders")
    sp = con.table("rfm_orders")
    for kwargs in ({"unit": "W", "observation_end": RULE_END},
                   {"unit": "D", "observation_end": RULE_END, "calibration_end": RULE_CAL,
                    "timezone": "Asia/Shanghai"}):
        want = rfm_summary(duck, **kwargs).to_pandas().sort_values("customer_id", ignore_index=True)
        got = rfm_summary(sp, **kwargs).to_pandas().sort_values("customer_id", ignore_index=True)
        assert len(want) > 50
        pd.testing.assert_frame_equal(got, want, check_dtype=False, check_exact=False, rtol=1e-12)
        assert list(got.columns) == list(want.columns)
