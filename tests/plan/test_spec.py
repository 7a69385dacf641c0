"""The campaign spec: the example loads, defaults, and every error names key, line and value."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pydantic
import pytest

from jingzhun.errors import ConfigError
from jingzhun.plan.spec import (
    GOAL_VALUE,
    GOALS,
    CampaignSpec,
    ChannelSpec,
    OfferSpec,
    default_audience,
    dump_spec,
    load_spec,
    parse_spec,
)
from jingzhun.profile.derive import PROFILE_COLUMNS
from jingzhun.profile.expr import check_expression
from jingzhun.profile.lifecycle import STAGES

EXAMPLE = Path(str(resources.files("jingzhun.plan").joinpath("examples/retain_sms.yaml")))

MINIMAL = """\
campaign_id: c1
name: 春季召回
goal: retain
channels:
  - name: sms
    cost_per_contact: 0.05
budget: 1000
margin_rate: 0.3
"""


def _error(text: str, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_spec(text, origin="campaign.yaml", **kw)
    return info.value


def test_example_loads():
    spec = load_spec(EXAMPLE)
    assert spec.goal == "retain" and spec.name == "春季老客召回"
    assert [c.name for c in spec.channels] == ["sms", "email", "app_push"]
    assert [c.cost_per_contact for c in spec.channels] == [0.05, 0.01, 0.0]
    assert spec.channels[2].capacity is not None
    assert {o.type for o in spec.offers} == {"none", "percent", "fixed"}
    pct = next(o for o in spec.offers if o.type == "percent")
    fixed = next(o for o in spec.offers if o.type == "fixed")
    assert pct.value == 0.10 and (fixed.value, fixed.min_order) == (30, 199)
    assert {c.language for c in spec.contents} == {"zh", "en"}
    assert (spec.budget, spec.margin_rate, spec.control.share) == (20000, 0.35, 0.10)
    assert (spec.frequency_cap.max_contacts, spec.frequency_cap.days) == (3, 30)
    assert spec.quiet_days_after_purchase == 3
    check_expression(spec.audience_expression(), [*PROFILE_COLUMNS, "clv", "p_alive"], boolean=True)


def test_defaults_of_a_minimal_spec():
    spec = parse_spec(MINIMAL)
    assert spec.name == "春季召回"
    assert spec.channels == [ChannelSpec(name="sms", cost_per_contact=0.05)]
    assert spec.channels[0].capacity is None and spec.channels[0].consent_purpose == "marketing"
    assert spec.channels[0].uplift_factor == 1.0
    assert [o.offer_id for o in spec.offers] == ["none"] and spec.offers[0].type == "none"
    assert [c.content_id for c in spec.contents] == ["default"]
    assert spec.contents[0].language is None and spec.contents[0].segment is None
    assert spec.horizon_days == 30 and spec.quiet_days_after_purchase == 0
    assert (spec.control.share, spec.control.min_size, spec.control.stratify_by) == \
        (0.1, 100, "lifecycle_stage")
    assert (spec.frequency_cap.max_contacts, spec.frequency_cap.days) == (3, 30)
    sup = spec.suppression
    assert sup.unsubscribed and sup.complained and sup.erased and sup.lists == []
    assert spec.audience is None and spec.uplift_campaign is None
    assert spec.audience_expression() == default_audience("retain")


def test_defaults_are_not_shared_between_specs():
    a, b = parse_spec(MINIMAL), parse_spec(MINIMAL)
    assert a.offers is not b.offers and a.suppression.lists is not b.suppression.lists


def test_numeric_ids_are_strings_but_booleans_are_not():
    spec = parse_spec(MINIMAL.replace("campaign_id: c1", "campaign_id: 20250301"))
    assert spec.campaign_id == "20250301"
    err = _error(MINIMAL.replace("name: 春季召回", "name: yes"))
    assert err.problems[0][:2] == ("name", 2)


def test_models_are_frozen_and_strict():
    spec = parse_spec(MINIMAL)
    with pytest.raises(pydantic.ValidationError):
        spec.budget = 5
    with pytest.raises(pydantic.ValidationError):
        ChannelSpec(name="sms", cost_per_contact=0.1, colour="red")


@pytest.mark.parametrize("goal", GOALS)
def test_goal_defaults_parse_against_the_profile(goal):
    expr = default_audience(goal)
    used = check_expression(expr, [*PROFILE_COLUMNS, "clv", "p_alive"], boolean=True)
    assert used
    assert GOAL_VALUE[goal]
    for stage in ("at_risk", "active", "dormant", "lost", "new"):
        if f"'{stage}'" in expr:
            assert stage in STAGES


def test_goal_defaults_mean_what_they_say():
    assert "at_risk" in default_audience("retain") and "clv is None" in default_audience("retain")
    assert "p_alive is None" in default_audience("reactivate")
    assert set(GOAL_VALUE) == set(GOALS)
    with pytest.raises(ConfigError, match="unknown goal"):
        default_audience("win")


@pytest.mark.parametrize("goal", GOALS)
def test_goal_defaults_select_the_right_customers(goal):
    """Compile each default against a tiny profile (DuckDB) with null CLV / P(alive)."""
    ibis = pytest.importorskip("ibis")
    from jingzhun.profile.expr import compile_expression

    rows = {
        "customer_id": ["at_risk_rich", "at_risk_poor", "at_risk_nullclv", "active", "dormant",
                        "dormant_dead", "dormant_null", "prospect"],
        "lifecycle_stage": ["at_risk", "at_risk", "at_risk", "active", "dormant", "dormant",
                            "dormant", "prospect"],
        "clv": [500.0, 10.0, None, 100.0, 50.0, 50.0, None, None],
        "monetary_net": [900.0, 20.0, 800.0, 300.0, 100.0, 100.0, 100.0, 0.0],
        "p_alive": [0.5, 0.5, None, 0.9, 0.2, 0.01, None, None],
        "orders": [5, 1, 4, 3, 2, 2, 2, 0],
    }
    import pandas as pd

    t = ibis.memtable(pd.DataFrame(rows))
    picked = set(t.filter(compile_expression(default_audience(goal), t, boolean=True))
                 .execute().customer_id)
    expected = {
        "retain": {"at_risk_rich", "at_risk_nullclv"},
        "grow": {"active"},
        "reactivate": {"dormant", "dormant_null"},
        "acquire": {"prospect"},
    }[goal]
    assert picked == expected


@pytest.mark.parametrize(("yaml_text", "key", "line", "shown"), [
    # bad type
    (MINIMAL.replace("budget: 1000", "budget: lots"), "budget", 7, "'lots'"),
    # negative budget
    (MINIMAL.replace("budget: 1000", "budget: -5"), "budget", 7, "-5"),
    # a negative cost, nested in a list
    (MINIMAL.replace("cost_per_contact: 0.05", "cost_per_contact: -0.5"),
     "channels[0].cost_per_contact", 6, "-0.5"),
    # an unknown key, with a suggestion
    (MINIMAL + "budgett: 3\n", "budgett", 9, "did you mean 'budget'"),
    # an unknown key in a nested section
    (MINIMAL + "control:\n  shares: 0.2\n", "control.shares", 10, "did you mean 'share'"),
    # an out-of-range share
    (MINIMAL + "control:\n  share: 1.5\n", "control.share", 10, "1.5"),
    # an unknown goal
    (MINIMAL.replace("goal: retain", "goal: retian"), "goal", 3, "'retian'"),
    # margin above 1
    (MINIMAL.replace("margin_rate: 0.3", "margin_rate: 35"), "margin_rate", 8, "35"),
    # percent given as 10 instead of 0.10
    (MINIMAL + "offers:\n  - offer_id: p\n    type: percent\n    value: 10\n",
     "offers[0].value", 12, "0.1"),
    # an unknown offer type
    (MINIMAL + "offers:\n  - offer_id: p\n    type: cashback\n", "offers[0].type", 11, "'cashback'"),
    # an audience that does not parse
    (MINIMAL + "audience: \"orders >\"\n", "audience", 9, "orders >"),
    # an audience that is not a condition
    (MINIMAL + "audience: orders + 1\n", "audience", 9, "condition"),
    # a missing required key names the key
    (MINIMAL.replace("margin_rate: 0.3\n", ""), "margin_rate", None, "missing"),
    # no channels
    (MINIMAL.replace("  - name: sms\n    cost_per_contact: 0.05\n", "").replace("channels:",
                                                                           "channels: []"),
     "channels", 4, "at least 1"),
    # a list where a section belongs
    (MINIMAL + "frequency_cap: [3, 30]\n", "frequency_cap", 9, "frequency_cap"),
])
def test_errors_name_key_line_and_value(yaml_text, key, line, shown):
    err = _error(yaml_text)
    first = str(err).splitlines()[0]
    assert first.startswith("campaign.yaml" + (f", line {line}:" if line else ""))
    assert f" {key}: " in first
    assert shown in first
    assert err.hint
    assert (key, line) in [(p[0], p[1]) for p in err.problems]


def test_all_problems_are_reported_in_one_error():
    text = MINIMAL.replace("budget: 1000", "budget: -5").replace("goal: retain", "goal: x")
    err = _error(text)
    assert [(p[0], p[1]) for p in err.problems] == [("goal", 3), ("budget", 7)]
    assert "also line 7: budget" in str(err)


@pytest.mark.parametrize(("extra", "key", "line", "name"), [
    ("  - name: email\n    cost_per_contact: 0.01\n  - name: sms\n    cost_per_contact: 0.02\n",
     "channels[2].name", 9, "'sms'"),
])
def test_duplicate_channel_names(extra, key, line, name):
    text = MINIMAL.replace("budget:", extra + "budget:", 1)
    err = _error(text)
    assert err.problems[0][:2] == (key, line)
    assert name in str(err) and "twice" in str(err)


def test_duplicate_offer_and_content_ids():
    offers = "offers:\n  - offer_id: a\n  - offer_id: b\n  - offer_id: a\n"
    err = _error(MINIMAL + offers)
    assert err.problems[0][:2] == ("offers[2].offer_id", 12)
    contents = "contents:\n  - content_id: x\n    language: zh\n  - content_id: y\n    language: zh\n"
    err = _error(MINIMAL + contents)
    assert err.problems[0][:2] == ("contents[1].content_id", 12)
    assert "language 'zh'" in str(err)


def test_duplicate_yaml_keys_are_refused():
    err = _error(MINIMAL + "budget: 2000\n")
    assert str(err).startswith("campaign.yaml, line 9: budget: the key is given twice (first on line 7)")


def test_yaml_syntax_error_names_the_line():
    err = _error(MINIMAL + "audience: [orders > 1\n")
    assert "line 9" in str(err) or "line 10" in str(err)
    assert "not valid YAML" in str(err)


@pytest.mark.parametrize("text", ["", "\n# only a comment\n", "---\n", "~\n"])
def test_empty_spec_is_a_clear_error(text):
    err = _error(text)
    assert "empty" in str(err) and "campaign_id" in err.hint


def test_a_spec_must_be_a_mapping():
    assert "mapping" in str(_error("- a\n- b\n"))


def test_chinese_utf8_file_with_bom(tmp_path):
    path = tmp_path / "春季召回.yaml"
    path.write_text(MINIMAL.replace("campaign_id: c1", "campaign_id: 春季召回_2025"), encoding="utf-8-sig")
    spec = load_spec(path)
    assert spec.campaign_id == "春季召回_2025" and spec.name == "春季召回"


def test_gbk_file_is_a_clear_error(tmp_path):
    path = tmp_path / "gbk.yaml"
    path.write_bytes(MINIMAL.encode("gbk"))
    with pytest.raises(ConfigError, match="UTF-8"):
        load_spec(path)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


def test_suppression_lists_resolve_against_the_spec_folder(tmp_path):
    folder = tmp_path / "specs"
    (folder / "lists").mkdir(parents=True)
    (folder / "lists" / "staff.txt").write_text("c1\nc2\n")
    absolute = tmp_path / "manual.txt"
    absolute.write_text("c3\n")
    path = folder / "campaign.yaml"
    path.write_text(MINIMAL + f"suppression:\n  lists: [lists/staff.txt, '{absolute}']\n",
                    encoding="utf-8")
    spec = load_spec(path)
    assert spec.suppression.lists == [folder.resolve() / "lists" / "staff.txt", absolute]


def test_missing_suppression_list_names_key_and_line(tmp_path):
    path = tmp_path / "campaign.yaml"
    path.write_text(MINIMAL + "suppression:\n  lists:\n    - staff.txt\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}, line 11: suppression.lists[0]:")
    assert "staff.txt" in str(info.value)


def test_without_base_dir_lists_stay_as_written():
    spec = parse_spec(MINIMAL + "suppression:\n  lists: [staff.txt]\n")
    assert spec.suppression.lists == [Path("staff.txt")]


def test_round_trip_of_a_minimal_spec():
    spec = parse_spec(MINIMAL)
    text = dump_spec(spec)
    assert "春季召回" in text
    assert parse_spec(text) == spec
    assert CampaignSpec.model_validate(spec.model_dump()) == spec


def test_round_trip_of_the_example():
    spec = load_spec(EXAMPLE)
    assert parse_spec(dump_spec(spec), base_dir=EXAMPLE.parent) == spec


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"type": "none", "value": 5}, "no value"),
    ({"type": "fixed", "value": 0}, "value > 0"),
    ({"type": "percent", "value": 0.1, "redemption_rate": 1.2}, "less than or equal to 1"),
])
def test_offer_rules_in_python(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OfferSpec(offer_id="o", **kwargs)
