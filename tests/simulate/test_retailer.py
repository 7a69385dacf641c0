"""The simulated retailer: determinism, file formats, dirt accounting and ground truth."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import hyp2f1

from jingzhun import contract
from jingzhun.errors import ConfigError
from jingzhun.simulate import BGNBDParams, GammaGammaParams, assignment_uniform, retailer
from jingzhun.simulate.retailer import CUSTOMER_HEADERS, LOAD_ORDER, SIGNUP_FORMATS

ENCODINGS = {"customers": "gbk", "orders": "utf-8-sig"}


def read_raw(data, table: str) -> pd.DataFrame:
    """A raw file as text, exactly as written (no NA guessing)."""
    return pd.read_csv(data.files[table], dtype=str, keep_default_na=False,
                       encoding=ENCODINGS.get(table, "utf-8"))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return retailer(tmp_path_factory.mktemp("small"), n_customers=400, seed=1)


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    return retailer(tmp_path_factory.mktemp("large"), n_customers=20000, seed=7)


def _all_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(small, tmp_path):
    again = retailer(tmp_path / "again", n_customers=400, seed=1)
    other = retailer(tmp_path / "other", n_customers=400, seed=2)
    first, second = _all_bytes(small.out_dir), _all_bytes(again.out_dir)
    assert first.keys() == second.keys()
    assert [k for k in first if first[k] != second[k]] == []
    third = _all_bytes(other.out_dir)
    assert first["orders.csv"] != third["orders.csv"]
    assert first["events.csv.gz"] != third["events.csv.gz"]


def test_files_are_encoded_as_declared(small):
    raw = small.files["customers"].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("gbk")
    assert text.count("\r\n") == text.count("\n") > 0  # CRLF only
    assert text.splitlines()[0].split(",") == list(CUSTOMER_HEADERS.values())
    assert small.files["orders"].read_bytes().startswith(b"\xef\xbb\xbf")
    assert not small.files["order_lines"].read_bytes().startswith(b"\xef\xbb\xbf")
    events = small.files["events"].read_bytes()
    assert events[:2] == b"\x1f\x8b"
    assert gzip.decompress(events).decode("utf-8").startswith("event_id,customer_id,")


def test_manifest_mappings_and_row_counts(small):
    manifest = json.loads(small.manifest_path.read_text("utf-8"))
    assert [m["table"] for m in manifest] == list(LOAD_ORDER)
    for entry in manifest:
        table = entry["table"]
        assert (small.out_dir / entry["file"]).is_file()
        mapping = yaml.safe_load((small.out_dir / entry["mapping"]).read_text("utf-8"))
        assert mapping["table"] == table and mapping["timezone"] == "Asia/Shanghai"
        known = set(contract.TABLES[table].column_names) | set(contract.PERSONAL_FIELDS)
        assert set(mapping.get("columns", {})) <= known
        df = read_raw(small, table)
        info = small.truth["files"][table]
        assert len(df) == info["rows"]
        assert info["rows_loaded"] == (info["rows"] - info["exact_duplicates"]
                                       - info["key_conflicts"] - len(info["bad_rows"]))
        if table != "customers":
            assert list(df.columns) == contract.TABLES[table].column_names


def _key_conflicts(df: pd.DataFrame, key: list[str], skip: set[int]) -> int:
    rows = df[~df.duplicated()].drop(index=[r - 1 for r in skip], errors="ignore")
    return int(rows.duplicated(subset=key).sum())


def test_dirt_in_truth_is_what_the_files_hold(small):
    for table in LOAD_ORDER:
        df, info = read_raw(small, table), small.truth["files"][table]
        dup = df.duplicated()
        assert int(dup.sum()) == info["exact_duplicates"], table
        assert [int(i) + 1 for i in np.flatnonzero(dup)] == info["duplicate_rows"]
        bad = {b["row_number"] for b in info["bad_rows"]}
        if table == "customers":
            key = [CUSTOMER_HEADERS["customer_id"]]
        else:
            key = list(contract.TABLES[table].key)
        assert _key_conflicts(df, key, bad) == info["key_conflicts"], table
        for b in info["bad_rows"]:
            assert df.loc[b["row_number"] - 1, b["column"]] == b["raw_value"]
            assert b["reason_code"] in contract.REASON_CODES
    orders = small.truth["files"]["orders"]
    assert orders["exact_duplicates"] == 3 and orders["key_conflicts"] == 2
    assert sorted(b["reason_code"] for b in orders["bad_rows"]) == [
        "bad_date", "bad_number", "missing_required"]


def _parses(text: str, formats) -> bool:
    for fmt in formats:
        try:
            datetime.strptime(text, fmt)
            return True
        except ValueError:
            pass
    return False


def test_every_other_order_row_parses_and_the_bad_ones_do_not(small):
    df, info = read_raw(small, "orders"), small.truth["files"]["orders"]
    bad = {b["row_number"]: b for b in info["bad_rows"]}
    amount = pd.to_numeric(df["total_amount"].str.replace("[￥,]", "", regex=True),
                           errors="coerce")
    for i, row in df.iterrows():
        b = bad.get(i + 1)
        assert _parses(row["ordered_at"], ["%Y-%m-%d %H:%M:%S"]) == (
            b is None or b["reason_code"] != "bad_date")
        assert np.isfinite(amount[i]) == (b is None or b["reason_code"] != "bad_number")
        assert (row["order_id"] != "") == (b is None or b["reason_code"] != "missing_required")
    assert df["total_amount"].str.startswith("￥").any()
    assert set(df["status"]) <= set(contract.ORDER_STATUSES)


def test_customers_file_parses_with_its_mapping(small):
    df, info = read_raw(small, "customers"), small.truth["files"]["customers"]
    h = CUSTOMER_HEADERS
    assert all(_parses(s, SIGNUP_FORMATS) for s in df[h["signup_at"]])
    assert set(df[h["gender"]]) == {"男", "女", "M", "F"}
    assert [f["row_number"] for f in info["flagged"]] == [
        int(i) + 1 for i in np.flatnonzero(df[h["city"]] == "")]
    assert df[h["phone"]].str.fullmatch(r"12\d{9}").all()
    assert df[h["email"]].str.endswith("@example.com").all()


def clean_orders(data) -> pd.DataFrame:
    """``orders.csv`` without the rows the truth lists as duplicates, conflicts or bad rows."""
    info = data.truth["files"]["orders"]
    drop = set(info["duplicate_rows"]) | set(info["conflict_rows"])
    drop |= {b["row_number"] for b in info["bad_rows"]}
    df = read_raw(data, "orders")
    df = df.drop(index=[r - 1 for r in drop])
    amount = df["total_amount"].str.replace("[￥,]", "", regex=True).astype(float)
    return df.assign(amount=amount).set_index("order_id")


def test_order_lines_add_up_to_the_orders(small):
    orders = clean_orders(small)
    assert len(orders) == small.truth["counts"]["orders"] and orders.index.is_unique
    lines = read_raw(small, "order_lines").drop_duplicates()
    assert set(lines["order_id"]) == set(orders.index)
    qty, unit = lines["quantity"].astype(int), lines["unit_price"].astype(float)
    net = qty * unit - lines["discount"].astype(float)
    sold = net[qty > 0].groupby(lines["order_id"][qty > 0]).sum()
    units = qty[qty > 0].groupby(lines["order_id"][qty > 0]).sum()
    has_single = (qty == 1).groupby(lines["order_id"]).any()
    gap = (sold - orders["amount"]).abs()
    assert (gap[has_single] < 0.001).all() and has_single.mean() > 0.8
    assert (gap <= 0.005 * 2 * units + 1e-6).all()
    returned = lines.loc[qty < 0, "order_id"].nunique() / len(orders)
    assert 0.02 < returned < 0.07
    assert (unit >= 0).all() and (lines["discount"].astype(float) >= 0).all()


def test_bgnbd_truth_matches_the_model(large):
    p = BGNBDParams()
    tc = large.truth_customers
    buyers = tc[tc["is_buyer"]]
    n = len(buyers)
    lam, drop = buyers["lambda_per_week"], buyers["p_dropout"]
    assert abs(lam.mean() - p.r / p.alpha) < 4 * np.sqrt(p.r) / p.alpha / np.sqrt(n)
    beta_sd = np.sqrt(p.a * p.b / ((p.a + p.b) ** 2 * (p.a + p.b + 1)))
    assert abs(drop.mean() - p.a / (p.a + p.b)) < 4 * beta_sd / np.sqrt(n)
    t = buyers["observed_weeks"].to_numpy()
    expected = (p.a + p.b - 1) / (p.a - 1) * (
        1 - (p.alpha / (p.alpha + t)) ** p.r * hyp2f1(p.r, p.b, p.a + p.b - 1, t / (p.alpha + t)))
    simulated = buyers["n_repeat"].astype(float)
    assert abs(simulated.mean() / expected.mean() - 1) < 0.05
    assert set(buyers.loc[buyers["death_at"] == "", "is_alive_at_end"]) <= {True}


def test_gamma_gamma_and_repeat_orders_match_the_truth(large):
    gg, tc = GammaGammaParams(), large.truth_customers
    nu = tc.loc[tc["is_buyer"], "gg_nu"]
    assert abs(nu.mean() - gg.q / gg.gamma) < 4 * np.sqrt(gg.q) / gg.gamma / np.sqrt(len(nu))
    kinds = large.truth["counts"]["orders_by_kind"]
    assert kinds["repeat"] == int(tc["n_repeat"].sum())
    assert kinds["first"] == int(tc["is_buyer"].sum())


def test_campaign_assignment_is_a_reproducible_hash_with_the_declared_share(large):
    camp, tc = large.truth["campaign"], large.truth_customers
    eligible = tc[tc["is_eligible"]]
    assert len(eligible) > 3000
    assert abs((eligible["arm"] == "control").mean() - camp["control_share"]) < 0.02
    u = [assignment_uniform(camp["campaign_id"], c, camp["salt"])
         for c in eligible["customer_id"].head(500)]
    assert np.allclose(u, eligible["assignment_u"].head(500))
    arm = np.where(np.array(u) < camp["control_share"], "control", "treatment")
    assert (arm == eligible["arm"].head(500).to_numpy()).all()
    assert assignment_uniform("C1", "U000001", "s") == assignment_uniform("C1", "U000001", "s")
    assert assignment_uniform("C1", "U000001", "s") != assignment_uniform("C1", "U000001", "t")
    sends = read_raw(large, "sends")
    assert dict(zip(sends["customer_id"], sends["arm"], strict=True)) == dict(
        zip(eligible["customer_id"], eligible["arm"], strict=True))


def test_campaign_uplift_is_what_the_truth_says(large):
    camp, tc = large.truth["campaign"], large.truth_customers
    buyers = tc[tc["is_buyer"]]
    seg_uplift = buyers["segment"].map({k: v["uplift_prob"] for k, v in camp["segments"].items()})
    cap = 1 - buyers["baseline_conversion_prob"]
    assert np.allclose(buyers["true_uplift_prob"], np.minimum(seg_uplift, cap))
    resp = read_raw(large, "responses")
    converted = set(resp.loc[resp["type"] == "conversion", "customer_id"])
    elig = tc[tc["is_eligible"]].assign(conv=lambda d: d["customer_id"].isin(converted))
    rate = elig.groupby("arm")["conv"].agg(["mean", "size"])
    diff = rate.loc["treatment", "mean"] - rate.loc["control", "mean"]
    se = np.sqrt((rate["mean"] * (1 - rate["mean"]) / rate["size"]).sum())
    expected = elig.loc[elig["arm"] == "treatment", "true_uplift_prob"].mean()
    assert abs(diff - expected) < 4 * se
    assert camp["segments"]["lapsing"]["uplift_prob"] > camp["segments"]["active"]["uplift_prob"]


def test_conversions_are_orders(small):
    resp = read_raw(small, "responses")
    conv = resp[resp["type"] == "conversion"]
    orders = clean_orders(small).reset_index()
    joined = conv.merge(orders, left_on=["customer_id", "occurred_at"],
                        right_on=["customer_id", "ordered_at"], how="left")
    assert len(joined) == len(conv) > 0
    assert np.allclose(joined["amount"], joined["revenue"].astype(float))
    assert (joined["status"] != "cancelled").all()


@pytest.mark.parametrize("kwargs", [
    {"n_customers": 5}, {"control_share": 1.5}, {"usd_to_cny": 0},
    {"bgnbd": BGNBDParams(r=-1)}, {"uplift_by_segment": {"active": 0.1}},
])
def test_bad_arguments_are_config_errors(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        retailer(tmp_path, **kwargs)
