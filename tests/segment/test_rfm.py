"""RFM scores and named segments: hand-computed scores, totality of the schemes, summary, Spark parity."""

from __future__ import annotations

import itertools

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jingzhun.errors import ConfigError, ContractError
from jingzhun.segment import rfm
from jingzhun.segment.rfm import (
    PROSPECT,
    assign_segments,
    load_scheme,
    rfm_scores,
    segment_summary,
)

SCHEMA = {"customer_id": "string", "orders": "int64", "recency_days": "int64", "monetary_net": "float64"}


def profile(rows, *, clv=None) -> ibis.Table:
    """A profile table from (customer_id, orders, recency_days, monetary_net) tuples."""
    data = {col: [r[i] for r in rows] for i, col in enumerate(SCHEMA)}
    schema = dict(SCHEMA)
    if clv is not None:
        data["clv"], schema["clv"] = clv, "float64"
    return ibis.memtable(data, schema=schema)


# 7 purchasers (n not divisible by 5) with ties in orders (four 1s) and recency (a, d at 10 days)
SMALL = [
    ("a", 1, 10, 10.0),
    ("b", 1, 20, 20.0),
    ("c", 1, 30, 30.0),
    ("d", 2, 10, 40.0),
    ("e", 3, 5, 50.0),
    ("f", 5, 1, 60.0),
    ("g", 0, None, 0.0),   # never bought
    ("h", 1, 400, 5.0),
]
# score = 1 + floor(5 * rank0 / 7), rank0 = 0-based min rank of the tie group
SMALL_CELLS = {"a": "311", "b": "212", "c": "113", "d": "333", "e": "444", "f": "555", "h": "111"}
SMALL_11 = {"a": "about_to_sleep", "b": "hibernating", "c": "lost", "d": "need_attention", "e": "loyal",
            "f": "champions", "g": PROSPECT, "h": "lost"}
SMALL_5 = {"a": "growth", "b": "dormant", "c": "lost", "d": "value", "e": "gold", "f": "gold",
           "g": PROSPECT, "h": "lost"}


def by_id(table: ibis.Table) -> pd.DataFrame:
    return table.to_pandas().sort_values("customer_id").set_index("customer_id")


# --------------------------------------------------------------------------- scores


def test_scores_by_hand_with_ties_and_reversed_recency():
    got = by_id(rfm_scores(profile(SMALL)))
    assert list(got.index) == ["a", "b", "c", "d", "e", "f", "h"]  # the prospect has no scores
    assert got["rfm_cell"].to_dict() == SMALL_CELLS
    # F: the four one-order customers tie at rank 1 -> 1; d starts at rank 5 -> 1 + floor(5*4/7) = 3
    assert got["f_score"].to_dict() == {"a": 1, "b": 1, "c": 1, "d": 3, "e": 4, "f": 5, "h": 1}
    # R reversed: 1 day ago scores 5, 400 days ago 1; a and d (both 10 days) tie
    assert got["r_score"].to_dict() == {"a": 3, "b": 2, "c": 1, "d": 3, "e": 4, "f": 5, "h": 1}
    assert got.loc["a", "recency_days"] == 10 and got.loc["f", "orders"] == 5
    assert got.loc["c", "monetary_net"] == 30.0
    assert {str(t) for t in rfm_scores(profile(SMALL)).schema().types[4:7]} == {"int64"}


def test_ten_distinct_values_fill_the_quintiles_evenly():
    rows = [(f"c{i}", i + 1, 100 - i, float(i)) for i in range(10)]
    got = by_id(rfm_scores(profile(rows))).sort_values("orders")
    assert list(got["f_score"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(got["m_score"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(got["r_score"]) == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]  # recency falls as orders rise


def test_three_customers_skip_bands():
    rows = [("x", 1, 30, 1.0), ("y", 2, 20, 2.0), ("z", 3, 10, 3.0)]
    got = by_id(rfm_scores(profile(rows)))
    assert got["rfm_cell"].to_dict() == {"x": "111", "y": "222", "z": "444"}  # floor(5*r/3): 0, 1, 3


def test_single_customer_and_all_equal_values_score_lowest():
    assert by_id(rfm_scores(profile([("solo", 4, 3, 99.0)])))["rfm_cell"].to_dict() == {"solo": "111"}
    same = [(f"c{i}", 2, 7, 10.0) for i in range(6)]
    assert set(by_id(rfm_scores(profile(same)))["rfm_cell"]) == {"111"}


def test_bins_three():
    rows = [(f"c{i}", i + 1, 100 - i, float(i)) for i in range(6)]
    got = by_id(rfm_scores(profile(rows), bins=3)).sort_values("orders")
    assert list(got["f_score"]) == [1, 1, 2, 2, 3, 3]


def _reference_scores(values, *, descending=False, bins=5):
    """score = 1 + floor(bins * (rank_min - 1) / n), in plain Python."""
    n = len(values)
    key = [-v if descending else v for v in values]
    return [1 + (bins * sum(k2 < k for k2 in key)) // n for k in key]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 6), st.integers(-2, 5)), min_size=1, max_size=25))
def test_scores_match_the_formula_and_ties_score_equal(rows):
    table = profile([(f"c{i:02d}", o, r, float(m)) for i, (o, r, m) in enumerate(rows)])
    got = rfm_scores(table).to_pandas().sort_values("customer_id")
    orders, recency, money = zip(*rows, strict=True)
    assert list(got["f_score"]) == _reference_scores(orders)
    assert list(got["r_score"]) == _reference_scores(recency, descending=True)
    assert list(got["m_score"]) == _reference_scores(money)


def test_bad_input_is_refused():
    with pytest.raises(ContractError, match="no column 'monetary_net'"):
        rfm_scores(ibis.memtable({"customer_id": ["a"], "orders": [1], "recency_days": [1]}))
    with pytest.raises(ContractError, match=r"orders must be an integer, not float64"):
        rfm_scores(ibis.memtable({"customer_id": ["a"], "orders": [1.0], "recency_days": [1],
                                  "monetary_net": [1.0]}))
    with pytest.raises(ConfigError, match="bins must be a whole number from 2 to 9, not 1"):
        rfm_scores(profile(SMALL), bins=1)


# --------------------------------------------------------------------------- schemes


@pytest.mark.parametrize("name", ["11", "5"])
def test_builtin_schemes_map_every_cell_to_one_segment(name):
    scheme = load_scheme(name)
    cells = list(itertools.product(range(1, 6), repeat=3))
    assert len(cells) == 125
    winners = [scheme.segment_of(*c) for c in cells]
    assert None not in winners
    assert set(winners) == set(scheme.segments)  # every rule wins some cell
    assert len(scheme.segments) == int(name)


def test_the_11_map_needs_no_rule_order():
    """Its rules tile the R x FM grid: each cell matches exactly one rule (the 5 scheme relies on order)."""
    scheme = load_scheme("11")
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        matching = [rule.segment for rule in scheme.rules if rule.matches(r, f, m)]
        assert len(matching) == 1, (r, f, m, matching)


@pytest.mark.parametrize("name", ["11", "5"])
def test_sql_rules_agree_with_python_on_every_cell(name):
    scheme = load_scheme(name)
    cells = list(itertools.product(range(1, 6), repeat=3))
    t = ibis.memtable({"r_score": [c[0] for c in cells], "f_score": [c[1] for c in cells],
                       "m_score": [c[2] for c in cells]}, schema={k: "int64" for k in ("r_score", "f_score",
                                                                                          "m_score")})
    got = t.mutate(segment=rfm._segment_of_scores(t, scheme)).to_pandas()
    want = [scheme.segment_of(*c) for c in zip(got.r_score, got.f_score, got.m_score, strict=True)]
    assert list(got["segment"]) == want


@pytest.mark.parametrize(("cell", "segment"), [
    ((5, 5, 5), "champions"), ((5, 4, 5), "champions"), ((5, 5, 3), "champions"),  # fm = 4
    ((5, 5, 2), "potential_loyalist"),  # fm = floor(3.5) = 3
    ((4, 4, 4), "loyal"), ((3, 5, 5), "loyal"),
    ((5, 3, 2), "potential_loyalist"), ((4, 2, 2), "potential_loyalist"),
    ((5, 1, 1), "new"), ((5, 1, 2), "new"), ((4, 1, 1), "promising"),
    ((3, 3, 3), "need_attention"), ((3, 1, 2), "about_to_sleep"), ((3, 2, 3), "about_to_sleep"),
    ((2, 3, 4), "at_risk"), ((1, 4, 4), "at_risk"), ((2, 5, 5), "cant_lose"), ((1, 5, 5), "cant_lose"),
    ((2, 1, 1), "hibernating"), ((2, 2, 2), "hibernating"), ((1, 1, 1), "lost"), ((1, 2, 3), "lost"),
])
def test_cells_of_the_11_map(cell, segment):
    assert load_scheme("11").segment_of(*cell) == segment


@pytest.mark.parametrize(("cell", "segment"), [
    ((5, 5, 5), "gold"), ((4, 4, 4), "gold"), ((3, 5, 5), "value"), ((4, 3, 5), "value"),
    ((5, 5, 2), "growth"), ((3, 1, 1), "growth"), ((5, 1, 5), "growth"),
    ((2, 5, 5), "dormant"), ((2, 1, 1), "dormant"), ((1, 5, 5), "lost"), ((1, 1, 1), "lost"),
])
def test_cells_of_the_5_scheme(cell, segment):
    assert load_scheme("5").segment_of(*cell) == segment


def test_labels_are_bilingual():
    eleven = {r.segment: (r.label_en, r.label_zh) for r in load_scheme("11").rules}
    assert eleven["champions"] == ("Champions", "冠军客户")
    assert eleven["cant_lose"] == ("Can't lose them", "不能失去")
    assert eleven["lost"] == ("Lost", "已流失")
    five = {r.segment: r.label_zh for r in load_scheme("5").rules}
    assert five == {"gold": "重要价值客户", "value": "价值客户", "growth": "成长客户", "dormant": "沉睡客户",
                    "lost": "流失客户"}


CUSTOM = """\
description: two groups
rules:
  - segment: active
    label_en: Active
    label_zh: 活跃
    r_score: [3, 5]
  - {segment: lapsed, label_en: Lapsed, label_zh: 不活跃}
"""


def test_custom_scheme_from_yaml(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(CUSTOM, encoding="utf-8")
    scheme = load_scheme(path)
    assert scheme.name == "two" and scheme.bins == 5 and scheme.segments == ("active", "lapsed")
    seg = by_id(assign_segments(profile(SMALL), str(path)))
    assert set(seg["scheme"]) == {"two"}
    assert seg["segment"].to_dict() == {"a": "active", "b": "lapsed", "c": "lapsed", "d": "active",
                                        "e": "active", "f": "active", "g": PROSPECT, "h": "lapsed"}
    summary = segment_summary(assign_segments(profile(SMALL), scheme), profile(SMALL), scheme=scheme)
    assert list(summary.to_pandas()["segment"]) == ["active", "lapsed", PROSPECT]


def test_unmapped_cell_is_rejected_with_an_example(tmp_path):
    path = tmp_path / "gap.yaml"
    path.write_text("rules:\n  - {segment: recent, label_en: Recent, label_zh: 近期, r_score: [2, 5]}\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        load_scheme(path)
    msg = str(exc.value)
    assert str(path) in msg and "rules:" in msg
    assert "(r, f, m) = (1, 1, 1) matches no rule (25 of 125 cells unmapped)" in msg


@pytest.mark.parametrize(("yaml_text", "expected"), [
    ("rules:\n  - {segment: all, label_en: All, label_zh: 全部, recency: 1}\n",
     r"line 2: rules\.0\.recency: unknown key 'recency'"),
    ("rules:\n  - {segment: all, label_en: All, label_zh: 全部}\n"
     "  - {segment: all, label_en: Again, label_zh: 再次}\n",
     r"line 3: rules\.1\.segment: segment 'all' is used by an earlier rule"),
    ("rules:\n  - {segment: prospect, label_en: All, label_zh: 全部}\n",
     r"rules\.0\.segment: segment 'prospect' is reserved"),
    ("rules:\n  - {segment: all, label_en: All, label_zh: 全部}\n"
     "  - {segment: never, label_en: Never, label_zh: 从不, r_score: 5}\n",
     r"line 3: rules\.1: rule 'never' never matches"),
    ("rules:\n  - {segment: top, label_en: Top, label_zh: 顶, r_score: [1, 6]}\n",
     r"rules\.0\.r_score: range \[1, 6\] goes beyond bins = 5"),
    ("rules:\n  - {segment: top, label_en: Top, label_zh: 顶, r_score: [4, 2]}\n",
     r"rules\.0\.r_score: a score range needs 1 <= min <= max, not \[4, 2\]"),
    ("bins: 12\nrules:\n  - {segment: all, label_en: All, label_zh: 全部}\n", r"line 1: bins:"),
    ("rules: []\n", r"rules:"),
    ("- just a list\n", r"a scheme must be a YAML object"),
    ("rules: [\n", r"not valid YAML"),
])
def test_bad_scheme_files_name_file_and_key(tmp_path, yaml_text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected) as exc:
        load_scheme(path)
    assert str(path) in str(exc.value)


def test_unknown_scheme_name():
    with pytest.raises(ConfigError, match="unknown scheme '12'") as exc:
        load_scheme("12")
    assert "11, 5" in exc.value.hint


# --------------------------------------------------------------------------- segments and summary


@pytest.mark.parametrize(("name", "want"), [("11", SMALL_11), ("5", SMALL_5)])
def test_assign_segments_by_hand(name, want):
    seg = assign_segments(profile(SMALL), name)
    assert seg.columns == ("customer_id", "scheme", "segment", "label_en", "label_zh", "r_score", "f_score",
                           "m_score", "rfm_cell")
    got = by_id(seg)
    assert got["segment"].to_dict() == want
    assert set(got["scheme"]) == {name}
    assert got.loc["g", "label_en"] == "Prospect (no purchase)"
    assert got.loc["g", "label_zh"] == "潜在客户(未购买)"
    assert pd.isna(got.loc["g", "r_score"]) and pd.isna(got.loc["g", "rfm_cell"])
    assert got.drop(index="g")["rfm_cell"].to_dict() == SMALL_CELLS


def test_null_orders_count_as_prospects():
    rows = [*SMALL, ("n", None, None, None)]
    got = by_id(assign_segments(profile(rows), "11"))
    assert got.loc["n", "segment"] == PROSPECT and got.loc["a", "rfm_cell"] == "311"


def test_segments_are_stable_and_independent_of_row_order():
    first = by_id(assign_segments(profile(SMALL), "11"))
    again = by_id(assign_segments(profile(SMALL), "11"))
    shuffled = by_id(assign_segments(profile(list(reversed(SMALL))), "11"))
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first, shuffled)


def test_summary_by_hand():
    prof = profile(SMALL)
    got = segment_summary(assign_segments(prof, "11"), prof).to_pandas()
    assert list(got.columns) == ["scheme", "segment", "label_en", "label_zh", "customers", "share", "revenue",
                                 "revenue_share", "avg_clv"]
    # rule order of the 11 map, prospect last, empty segments absent
    assert list(got["segment"]) == ["champions", "loyal", "need_attention", "about_to_sleep", "hibernating",
                                    "lost", PROSPECT]
    row = got.set_index("segment")
    assert row.loc["lost", "customers"] == 2 and row.loc["lost", "share"] == pytest.approx(2 / 8)
    assert row.loc["lost", "revenue"] == pytest.approx(35.0)
    assert row.loc["lost", "revenue_share"] == pytest.approx(35.0 / 215.0)
    assert row.loc[PROSPECT, "revenue"] == 0.0 and row.loc["lost", "label_zh"] == "已流失"
    assert got["customers"].sum() == 8
    assert got["share"].sum() == pytest.approx(1.0) and got["revenue_share"].sum() == pytest.approx(1.0)
    assert got["avg_clv"].isna().all() and str(segment_summary(assign_segments(prof, "11"), prof)
                                                   .schema()["avg_clv"]) == "float64"


def test_summary_with_clv_and_stacked_schemes():
    prof = profile(SMALL, clv=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 8.0])
    stacked = assign_segments(prof, "11").union(assign_segments(prof, "5"))
    got = segment_summary(stacked, prof).to_pandas()
    assert list(got["scheme"]) == ["11"] * 7 + ["5"] * 6
    five = got[got["scheme"] == "5"].set_index("segment")
    assert list(five.index) == ["gold", "value", "growth", "dormant", "lost", PROSPECT]
    assert five.loc["gold", "customers"] == 2 and five.loc["gold", "avg_clv"] == pytest.approx(5.5)
    assert five.loc["lost", "avg_clv"] == pytest.approx((3.0 + 8.0) / 2)
    for _, part in got.groupby("scheme"):
        assert part["customers"].sum() == 8 and part["share"].sum() == pytest.approx(1.0)


def test_summary_revenue_share_is_null_without_revenue():
    prof = profile([("a", 1, 3, 0.0), ("b", 0, None, 0.0)])
    got = segment_summary(assign_segments(prof, "5"), prof).to_pandas()
    assert got["revenue_share"].isna().all() and list(got["customers"]) == [1, 1]


# --------------------------------------------------------------------------- Spark parity


def _random_profile(n: int = 400, seed: int = 7) -> list[tuple]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        orders = int(rng.choice([0, 1, 1, 1, 2, 2, 3, 5, 8]))
        recency = None if orders == 0 else int(rng.integers(0, 60))
        money = 0.0 if orders == 0 else float(np.round(rng.gamma(2.0, 30.0) * orders, 1) // 5 * 5)
        rows.append((f"c{i:04d}", orders, recency, money))
    return rows


def _spark_profile(spark_con, name, rows, clv):
    spark, con = spark_con
    ddl = ", ".join(f"{c} {'string' if t == 'string' else 'bigint' if t == 'int64' else 'double'}"
                    for c, t in SCHEMA.items()) + ", clv double"
    df = spark.createDataFrame([(*r, c) for r, c in zip(rows, clv, strict=True)], schema=ddl)
    df.createOrReplaceTempView(name)
    return con.table(name)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")  # pyspark 4.0 on pandas 3
def test_spark_gives_the_same_segments_and_summary(spark_con):
    rows = _random_profile()
    clv = [float(i % 17) for i in range(len(rows))]
    duck = profile(rows, clv=clv)
    spark = _spark_profile(spark_con, "rfm_profile", rows, clv)
    key = ["customer_id"]
    for name in ("11", "5"):
        want = assign_segments(duck, name).to_pandas().sort_values(key).reset_index(drop=True)
        got = assign_segments(spark, name).to_pandas().sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert want["segment"].nunique() >= 4  # the data exercise several segments
        want_sum = segment_summary(assign_segments(duck, name), duck).to_pandas()
        got_sum = segment_summary(assign_segments(spark, name), spark).to_pandas()
        pd.testing.assert_frame_equal(got_sum, want_sum, check_dtype=False, rtol=1e-9, atol=1e-9)
    want = rfm_scores(duck).to_pandas().sort_values(key).reset_index(drop=True)
    got = rfm_scores(spark).to_pandas().sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
