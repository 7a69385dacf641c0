"""Tag rules: rule files, membership on a hand-made profile, history, and DuckDB/Spark parity."""

from __future__ import annotations

import datetime as dt
import importlib.util
import shutil

import ibis
import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import ConfigError, ContractError
from jingzhun.profile.expr import compile_expression
from jingzhun.profile.tags import (
    TagRule,
    apply_tags,
    current_tags,
    load_rules,
    parse_rules,
    update_tag_history,
    validate_rules,
)

#: customer_profile's columns and types (issue 4).
PROFILE_SCHEMA = {
    "customer_id": "string", "as_of": "date",
    **dict.fromkeys(["orders", "repeat_orders", "purchase_days", "cancelled_orders", "items",
                     "items_returned"], "int64"),
    **dict.fromkeys(["monetary_gross", "returns_amount", "monetary_net", "avg_order_value",
                     "max_order_value", "discount_amount", "return_rate"], "float64"),
    "first_order_at": "timestamp", "last_order_at": "timestamp",
    "recency_days": "int64", "tenure_days": "int64",
    "ipt_mean_days": "float64", "ipt_median_days": "float64", "ipt_cv": "float64",
    "preferred_weekday": "int64", "preferred_hour": "int64",
    "top_category": "string", "top_brand": "string",
    "top_category_share": "float64", "top_brand_share": "float64", "category_count": "int64",
    **dict.fromkeys(["category_entropy", "new_product_share", "discount_order_share",
                     "discount_depth_mean", "price_index"], "float64"),
    "preferred_channel": "string",
    **dict.fromkeys(["views_30d", "views_90d", "carts_30d", "carts_90d", "searches_30d",
                     "searches_90d"], "int64"),
    "cart_abandonment_rate_90d": "float64", "last_event_at": "timestamp",
    "lifecycle_stage": "string", "expected_gap_days": "float64",
    **dict.fromkeys(["gender", "age_band", "city", "province"], "string"),
    "signup_at": "timestamp",
}
DEFAULT_TAGS = ["high_value", "discount_hunter", "new_customer", "at_risk", "lapsed_vip",
                "single_category_buyer", "cart_abandoner"]
#: The columns the default rules read, and the ones the parity test adds.
COLUMNS = ["customer_id", "orders", "monetary_net", "discount_order_share", "lifecycle_stage",
           "category_count", "carts_90d", "cart_abandonment_rate_90d", "last_order_at"]


def profile_frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS)
    for c in ("orders", "category_count", "carts_90d"):
        df[c] = df[c].astype("Int64")
    df["last_order_at"] = pd.to_datetime(df["last_order_at"])
    return df


T = dt.datetime

# monetary_net over the 10 customers: 0, 0, 50, 80, 100, 120, 200, 300, 500, null
#   p90: h = 8 * 0.9 = 7.2 -> 300 + 0.2 * 200 = 340;  p80: h = 6.4 -> 200 + 0.4 * 100 = 240
HAND = [
    # id  orders net   disc  stage       cats carts aband  last order
    ("c01", 0, 0.0, None, "prospect", 0, 3, 1.0, None),
    ("c02", 1, 50.0, 1.0, "new", 1, 0, None, T(2024, 6, 1)),
    ("c03", 4, 120.0, 0.75, "active", 1, 2, 0.5, T(2024, 5, 20)),
    ("c04", 3, 80.0, 0.5, "at_risk", 2, 1, 1.0, T(2024, 3, 1)),
    ("c05", 6, 500.0, 0.0, "dormant", 3, 2, 0.4, T(2023, 11, 1)),
    ("c06", 5, 300.0, 0.6, "lost", 4, None, None, T(2023, 1, 1)),
    ("c07", 2, 200.0, None, "active", None, 4, 0.75, T(2024, 6, 10)),
    ("c08", 2, 100.0, 0.0, "lost", 2, 0, None, T(2023, 2, 1)),
    ("c09", 0, None, None, None, None, None, None, None),
    ("c10", 1, 0.0, 1.0, "new", 1, 2, 0.5, T(2024, 6, 15)),
]
HAND_EXPECTED = {
    "high_value": {"c05"},                      # >= 340
    "discount_hunter": {"c03", "c06"},          # share > 0.5 with >= 3 orders; c04 is exactly 0.5
    "new_customer": {"c02", "c10"},
    "at_risk": {"c04"},
    "lapsed_vip": {"c05", "c06"},               # >= 240 and dormant/lost; c08 is lost but 100
    "single_category_buyer": {"c03"},           # c02/c10 have one order; c07's count is null
    "cart_abandoner": {"c01", "c03", "c07", "c10"},  # c05: rate 0.4; c04: 1 cart
}


def as_sets(df: pd.DataFrame) -> dict[str, set[str]]:
    return {tag: set(g.customer_id) for tag, g in df.groupby("tag")}


@pytest.fixture(scope="module")
def duck():
    return ibis.duckdb.connect()


# ------------------------------------------------------------------------------------ rule files

def test_default_rules_load_and_validate():
    rules = load_rules()
    assert [r.name for r in rules] == DEFAULT_TAGS
    assert all(r.description and r.description_zh for r in rules)
    validate_rules(rules, list(PROFILE_SCHEMA))
    validate_rules(rules, PROFILE_SCHEMA)  # with types: every rule compiles to a condition
    assert rules[0].expression == "monetary_net >= p90(monetary_net) and orders > 0"
    assert rules[0].origin.endswith("default_tags.yaml, line 6")


def test_default_rules_fit_the_profile_stage():
    derive = pytest.importorskip("jingzhun.profile.derive")
    assert set(derive.PROFILE_COLUMNS) == set(PROFILE_SCHEMA)
    validate_rules(load_rules(), derive.PROFILE_COLUMNS)


def test_short_form_and_file(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("tags:\n  repeat_buyer: \"orders >= 2\"\n  big:\n    description: Big\n"
                    "    description_zh: 大客户\n    expression: >-\n      monetary_net > 100\n"
                    "      and orders > 0\n", encoding="utf-8")
    rules = load_rules(path)
    assert rules == [TagRule("repeat_buyer", "", "orders >= 2"),
                     TagRule("big", "Big", "monetary_net > 100 and orders > 0", "大客户")]
    assert rules[1].origin == f"{path}, line 3"


@pytest.mark.parametrize(("text", "words"), [
    ("tags:\n  a: orders > 1\n  a: orders > 2\n", "line 3: tag 'a' is defined twice (first on line 2)"),
    ("tags:\n  ok: orders > 1\n  Bad-Name: orders > 2\n", "line 3: tag name 'Bad-Name' is not a snake_case"),
    ("tags:\n  a:\n    expresion: orders > 1\n", "line 2: tag 'a': unknown key 'expresion' (did you mean"),
    ("tags:\n  a:\n    description: x\n", "line 2: tag 'a': `expression` is missing"),
    ("tags:\n  a: 5\n", "line 2: tag 'a': give an expression"),
    ("tags:\n  a: orders >\n", "line 2: tag 'a': syntax error (invalid syntax) at 1:9"),
    ("tags:\n  b: orders > 0\n  a: orders.x > 0\n", "line 3: tag 'a': attribute access"),
    ("tags:\n  a: orders + 1\n", "line 2: tag 'a': the expression must be a condition"),
    ("tag:\n  a: orders > 1\n", "a tag rule file is a YAML mapping with a `tags:` key"),
    ("tags:\n  a: orders > 1\ntagz: 1\n", "line 3: unknown key 'tagz' (did you mean 'tags'?)"),
    ("tags: [a, b]\n", "line 1: `tags:` must map tag names to rules"),
    ("tags:\n  a: 'orders\n", "not valid YAML"),
])
def test_bad_rule_files(tmp_path, text, words):
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_rules(path)
    assert str(info.value).startswith(str(path))
    assert words in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read tag rules"):
        load_rules(tmp_path / "nope.yaml")


def test_validate_names_the_rule_its_file_and_line():
    rules = parse_rules("tags:\n  ok: orders > 1\n  discount_hunter: discount_share > 0.5 and orders >= 3\n",
                        origin="my.yaml")
    with pytest.raises(ConfigError) as info:
        validate_rules(rules, list(PROFILE_SCHEMA))
    assert str(info.value) == ("my.yaml, line 3: tag 'discount_hunter': unknown column 'discount_share' "
                               "at 1:1; did you mean 'discount_order_share'?")
    assert "known columns: age_band, as_of" in info.value.hint
    typed = parse_rules("tags:\n  t: top_category > 5\n", origin="my.yaml")
    validate_rules(typed, list(PROFILE_SCHEMA))  # names only: the type error cannot be seen
    with pytest.raises(ConfigError, match=r"my.yaml, line 2: tag 't': cannot compare string > int8"):
        validate_rules(typed, PROFILE_SCHEMA)
    twice = [TagRule("a", "", "orders > 1"), TagRule("a", "", "orders > 2")]
    with pytest.raises(ConfigError, match="tag 'a': a tag of this name is already defined"):
        validate_rules(twice, list(PROFILE_SCHEMA))


def test_bad_rule_name():
    with pytest.raises(ConfigError, match="not a snake_case identifier"):
        TagRule("High Value", "", "orders > 1")


# ---------------------------------------------------------------------------------- membership

def test_apply_default_tags_by_hand(duck):
    profile = duck.create_table("customer_profile", profile_frame(HAND), overwrite=True)
    membership = apply_tags(profile, load_rules())
    assert membership.columns == ("customer_id", "tag")
    got = duck.execute(membership)
    assert as_sets(got) == HAND_EXPECTED
    assert len(got) == sum(len(v) for v in HAND_EXPECTED.values())  # one row per (customer, tag)


def test_apply_tags_edge_cases(duck):
    profile = duck.create_table("p_edge", profile_frame(HAND), overwrite=True)
    assert duck.execute(apply_tags(profile, [])).empty
    assert list(duck.execute(apply_tags(profile, [])).columns) == ["customer_id", "tag"]
    none = apply_tags(profile, [TagRule("nobody", "", "orders > 100")])
    assert duck.execute(none).empty
    with pytest.raises(ConfigError, match="tag 'x': the expression must be a condition"):
        apply_tags(profile, [TagRule("x", "", "monetary_net")])
    with pytest.raises(ContractError, match="no customer_id"):
        apply_tags(profile.drop("customer_id"), [TagRule("a", "", "orders > 1")])


# ------------------------------------------------------------------------------------- history

def history_rows(con, history) -> set[tuple]:
    def day(x):  # dates come back as pandas Timestamps
        return None if pd.isna(x) else pd.Timestamp(x).date()

    df = con.execute(history)
    return {(r.customer_id, r.tag, day(r.tagged_since), day(r.untagged_at)) for r in df.itertuples()}


def membership_of(pairs: list[tuple[str, str]]) -> ibis.Table:
    return ibis.memtable(pd.DataFrame(pairs, columns=["customer_id", "tag"], dtype="string"))


D1, D2, D3 = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)


def test_history_three_steps(duck):
    # a: vip on all three dates; b: vip, leaves, re-enters; c: vip from D2, leaves at D3;
    # d: new at D1 only; e: never tagged
    h1 = update_tag_history(None, membership_of([("a", "vip"), ("b", "vip"), ("d", "new")]), as_of=D1)
    assert history_rows(duck, h1) == {("a", "vip", D1, None), ("b", "vip", D1, None), ("d", "new", D1, None)}
    h2 = update_tag_history(h1, membership_of([("a", "vip"), ("c", "vip"), ("a", "vip")]), as_of=D2)
    assert history_rows(duck, h2) == {("a", "vip", D1, None), ("b", "vip", D1, D2), ("c", "vip", D2, None),
                                      ("d", "new", D1, D2)}
    h2 = duck.create_table("history", duck.execute(h2), overwrite=True)  # as stored between runs
    h3 = update_tag_history(h2, membership_of([("a", "vip"), ("b", "vip")]), as_of=D3)
    assert history_rows(duck, h3) == {
        ("a", "vip", D1, None),          # still open, unchanged
        ("b", "vip", D1, D2),            # the closed spell stays as it was
        ("b", "vip", D3, None),          # ... and re-entering opens a new one
        ("c", "vip", D2, D3),
        ("d", "new", D1, D2),
    }
    assert history_rows(duck, current_tags(h3).mutate(untagged_at=ibis.null("date"))) == {
        ("a", "vip", D1, None), ("b", "vip", D3, None)}
    schema = h3.schema()
    assert (schema["tagged_since"], schema["untagged_at"]) == (ibis.dtype("date"), ibis.dtype("date"))
    # re-running a date with the same membership changes nothing
    again = update_tag_history(h3, membership_of([("a", "vip"), ("b", "vip")]), as_of=D3)
    assert history_rows(duck, again) == history_rows(duck, h3)


def test_history_checks_its_inputs():
    m = membership_of([("a", "vip")])
    with pytest.raises(TypeError, match="datetime.date"):
        update_tag_history(None, m, as_of=dt.datetime(2024, 1, 1))
    with pytest.raises(ContractError, match="untagged_at"):
        update_tag_history(m.mutate(tagged_since=ibis.literal(D1)), m, as_of=D2)


# ------------------------------------------------------------------------------ Spark parity

HAS_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
needs_spark = pytest.mark.skipif(not HAS_SPARK, reason="pyspark or java is not available")

SPARK_DDL = ("customer_id string, orders bigint, monetary_net double, discount_order_share double, "
             "lifecycle_stage string, category_count bigint, carts_90d bigint, "
             "cart_abandonment_rate_90d double, last_order_at timestamp")
PARITY_RULES = [
    TagRule("p37_buyer", "", "monetary_net >= p37(monetary_net)"),
    TagRule("median_aov", "", "monetary_net / orders > median(monetary_net / orders)"),
    TagRule("above_mean", "", "monetary_net > mean(monetary_net) or orders == max(orders)"),
    TagRule("not_recent", "", "not (last_order_at >= '2024-03-01') and orders is not None"),
    TagRule("chained", "", "1 <= orders < 4 and lifecycle_stage not in ('lost', 'dormant')"),
    TagRule("logged", "", "log1p(coalesce(monetary_net, 0)) > 4.5"),
]


def random_profile(n: int = 300, seed: int = 11) -> pd.DataFrame:
    """Ties (rounded amounts), nulls and zero orders, so quantiles and divisions are tested."""
    rng = np.random.default_rng(seed)
    stages = np.array(["prospect", "new", "active", "at_risk", "dormant", "lost", "reactivated"])
    orders = rng.poisson(2.0, n)
    net = np.round(rng.gamma(1.5, 120.0, n), -1) * (orders > 0)
    rows = []
    for i in range(n):
        rows.append((
            f"c{i:04d}", int(orders[i]), None if rng.random() < 0.08 else float(net[i]),
            None if orders[i] == 0 else float(rng.integers(0, orders[i] + 1) / orders[i]),
            None if rng.random() < 0.05 else str(rng.choice(stages)),
            None if orders[i] == 0 else int(rng.integers(1, 4)), int(rng.poisson(1.5)),
            None if rng.random() < 0.3 else float(rng.integers(0, 5) / 4),
            None if orders[i] == 0 else T(2024, 1, 1) + dt.timedelta(days=int(rng.integers(0, 180))),
        ))
    return rows


def spark_table(spark_con, name: str, rows: list[tuple]) -> ibis.Table:
    # from Python rows with an explicit schema: nulls stay nulls (pandas would turn them into NaN)
    spark, con = spark_con
    spark.createDataFrame(rows, schema=SPARK_DDL).createOrReplaceTempView(name)
    return con.table(name)


@needs_spark
@pytest.mark.slow
def test_spark_matches_duckdb(duck, spark_con):
    rows = random_profile()
    rules = load_rules() + PARITY_RULES
    on_duck = duck.create_table("parity", profile_frame(rows), overwrite=True)
    on_spark = spark_table(spark_con, "parity", rows)
    spark = spark_con[1]

    for q in ("p37(monetary_net)", "p80(monetary_net)", "p90(monetary_net)",
              "median(monetary_net / orders)", "min(last_order_at)"):
        on_both = [con.execute(compile_expression(q, t)) for con, t in ((spark, on_spark), (duck, on_duck))]
        assert on_both[0] == on_both[1], q  # exactly, to the last bit
    net = np.array([r[2] for r in rows if r[2] is not None])
    assert duck.execute(compile_expression("p37(monetary_net)", on_duck)) == pytest.approx(
        np.quantile(net, 0.37), rel=1e-12)

    want = as_sets(duck.execute(apply_tags(on_duck, rules)))
    got = as_sets(spark.execute(apply_tags(on_spark, rules)))
    assert got == want
    assert set(want) == {r.name for r in rules}  # every rule tags someone: the comparison means something

    hand = as_sets(spark.execute(apply_tags(spark_table(spark_con, "hand", HAND), load_rules())))
    assert hand == HAND_EXPECTED


@needs_spark
@pytest.mark.slow
def test_spark_history(duck, spark_con):
    s, spark = spark_con
    pairs = "customer_id string, tag string"
    s.createDataFrame([("a", "vip"), ("b", "vip")], pairs).createOrReplaceTempView("m1")
    s.createDataFrame([("a", "vip"), ("c", "new")], pairs).createOrReplaceTempView("m2")
    h = update_tag_history(None, spark.table("m1"), as_of=D1)
    h = update_tag_history(h, spark.table("m2"), as_of=D2)
    assert history_rows(spark, h) == {("a", "vip", D1, None), ("b", "vip", D1, D2), ("c", "new", D2, None)}
