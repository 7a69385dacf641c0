"""Eligibility: consent per channel and purpose, suppression, frequency cap, quiet period, funnel."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jingzhun.errors import ContractError
from jingzhun.plan.eligibility import STEPS, Eligibility, current_consent, eligibility
from jingzhun.plan.spec import ChannelSpec, FrequencyCap

AS_OF = datetime(2025, 6, 1, 12, 0)
SMS = ChannelSpec(name="sms", cost_per_contact=0.05)
EMAIL = ChannelSpec(name="email", cost_per_contact=0.01)
PUSH = ChannelSpec(name="app_push", cost_per_contact=0.0, consent_purpose="service")


def _consents(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["customer_id", "channel", "purpose", "changed_at", "granted"]
                        ).assign(source="test")


def _sends(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "sent_at"])
    df["sent_at"] = pd.to_datetime(df["sent_at"])
    return df.assign(campaign_id=[f"c{i}" for i in range(len(df))], arm="treatment", channel="sms", cost=0.05)


def _orders(rows) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "status"])
    df["ordered_at"] = pd.to_datetime(df["ordered_at"])
    return df.assign(total_amount=100.0)


NO_SENDS = _sends([])
NO_ORDERS = _orders([])


def _granted(*ids, channel="sms", purpose="marketing", at=AS_OF - timedelta(days=100)):
    return [(i, channel, purpose, at, True) for i in ids]


def _run(audience, consents, *, sends=NO_SENDS, orders=NO_ORDERS, suppressed=None, cap=None,
         quiet=0, channels=(SMS,)) -> Eligibility:
    return eligibility(pd.Series(audience), channels=list(channels), consents=consents, sends=sends,
                       orders=orders, suppressed=suppressed or {},
                       frequency_cap=cap or FrequencyCap(max_contacts=3, days=30),
                       quiet_days_after_purchase=quiet, as_of=AS_OF)


def _reason(e: Eligibility, cid: str) -> tuple[str, str]:
    row = e.excluded.set_index("customer_id").loc[cid]
    return row["reason_code"], row["reason"]


# -- consent -----------------------------------------------------------------------------------

def test_latest_consent_row_wins():
    t = AS_OF - timedelta(days=10)
    log = _consents([
        ("a", "sms", "marketing", t, True), ("a", "sms", "marketing", t + timedelta(days=1), False),
        ("a", "sms", "marketing", t + timedelta(days=2), True),        # grant, revoke, grant
        ("b", "sms", "marketing", t, True), ("b", "sms", "marketing", t + timedelta(days=1), False),
        ("c", "sms", "marketing", t, True), ("c", "sms", "marketing", AS_OF + timedelta(hours=1), False),
    ])
    cur = current_consent(log, as_of=AS_OF).set_index("customer_id")["granted"]
    assert cur.to_dict() == {"a": True, "b": False, "c": True}  # c's revoke is after as_of
    e = _run(["a", "b", "c"], log)
    assert sorted(e.pairs["customer_id"]) == ["a", "c"]
    assert _reason(e, "b") == ("no_consent", "no sms consent for marketing")
    # a revoke at the same instant as a grant wins; rows after as_of do not exist yet
    tie = _consents([("d", "sms", "marketing", t, True), ("d", "sms", "marketing", t, False)])
    assert not current_consent(tie, as_of=AS_OF)["granted"].item()
    assert current_consent(log, as_of=t - timedelta(days=1)).empty


def test_consent_is_per_channel_and_purpose():
    log = _consents(
        _granted("a", channel="email")
        + _granted("b", channel="sms") + _granted("b", channel="email")
        + _granted("c", channel="sms", purpose="service")          # wrong purpose for sms
        + _granted("d", channel="app_push", purpose="service")     # right purpose for push
        + _granted("e", channel="SMS ", purpose="Marketing")       # spelling normalised
    )
    e = _run(list("abcde"), log, channels=(SMS, EMAIL, PUSH))
    got = sorted(map(tuple, e.pairs[["customer_id", "channel"]].to_numpy()))
    assert got == sorted([("a", "email"), ("b", "sms"), ("b", "email"), ("d", "app_push"), ("e", "sms")])
    # channels keep the spec's order within a customer
    assert list(e.pairs.loc[e.pairs["customer_id"] == "b", "channel"]) == ["sms", "email"]
    assert _reason(e, "c") == ("no_consent",
                               "no sms/email consent for marketing; no app_push consent for service")
    assert e.funnel[1] == {"step": "has consent", "customers": 4, "excluded": 1}


# -- suppression -------------------------------------------------------------------------------

def test_suppression_reasons():
    log = _consents(_granted("a", "b", "c", "d"))
    e = _run(list("abcd"), log, suppressed={"unsubscribed": {"a", "c"}, "staff": {"c"}, "erased": set()})
    assert list(e.pairs["customer_id"]) == ["b", "d"]
    assert _reason(e, "a") == ("suppressed", "suppressed: unsubscribed")
    assert _reason(e, "c") == ("suppressed", "suppressed: unsubscribed, staff")
    assert e.funnel[2] == {"step": "not suppressed", "customers": 2, "excluded": 2}


def test_first_failing_step_is_the_reason():
    # x has no consent and is suppressed and over the cap: only "no consent" is reported
    log = _consents(_granted("y"))
    sends = _sends([("x", AS_OF - timedelta(days=1))] * 5)
    e = _run(["x", "y"], log, sends=sends, suppressed={"staff": {"x"}})
    assert e.excluded.to_dict("records") == [
        {"customer_id": "x", "reason_code": "no_consent", "reason": "no sms consent for marketing"}]


# -- frequency cap -----------------------------------------------------------------------------

def test_frequency_cap_boundary():
    log = _consents(_granted("at_cap", "below", "outside", "future", "control"))
    inside = AS_OF - timedelta(days=29, hours=23)
    edge = AS_OF - timedelta(days=30)            # exactly `days` ago: outside (as_of - days, as_of]
    sends = _sends(
        [("at_cap", inside), ("at_cap", AS_OF - timedelta(days=1)), ("at_cap", AS_OF)]   # 3 = cap
        + [("below", inside), ("below", AS_OF)]                                           # 2 < cap
        + [("outside", edge), ("outside", edge - timedelta(days=3)), ("outside", inside), ("outside", AS_OF)]
        + [("future", AS_OF + timedelta(seconds=1))] * 3 + [("future", AS_OF)]
    )
    control = _sends([("control", AS_OF - timedelta(days=1))] * 3).assign(arm="control")
    sends = pd.concat([sends, control], ignore_index=True)
    e = _run(["at_cap", "below", "outside", "future", "control"], log, sends=sends,
             cap=FrequencyCap(max_contacts=3, days=30))
    assert sorted(e.pairs["customer_id"]) == ["below", "control", "future", "outside"]
    assert _reason(e, "at_cap") == ("frequency_cap", "3 contacts in the last 30 days (cap 3)")
    assert e.funnel[3] == {"step": "under frequency cap", "customers": 4, "excluded": 1}
    # sends are counted across campaigns and channels: the cap is per customer
    e1 = _run(["below"], log, sends=sends, cap=FrequencyCap(max_contacts=2, days=30))
    assert e1.pairs.empty and _reason(e1, "below")[1] == "2 contacts in the last 30 days (cap 2)"


# -- quiet period ------------------------------------------------------------------------------

def test_quiet_period_boundary_and_cancelled_orders():
    log = _consents(_granted("recent", "edge", "cancelled", "returned", "old", "none", "today"))
    orders = _orders([
        ("recent", AS_OF - timedelta(days=2, hours=1), "completed"),
        ("recent", AS_OF - timedelta(days=20), "completed"),
        ("edge", AS_OF - timedelta(days=3), "completed"),        # exactly quiet_days ago: outside
        ("cancelled", AS_OF - timedelta(days=1), "cancelled"),   # cancelled orders do not count
        ("returned", AS_OF - timedelta(days=1), "returned"),     # returned ones do
        ("old", AS_OF - timedelta(days=10), "completed"),
        ("today", AS_OF - timedelta(hours=2), "completed"),
        ("none", AS_OF + timedelta(hours=1), "completed"),       # after as_of
    ])
    e = _run(["recent", "edge", "cancelled", "returned", "old", "none", "today"], log, orders=orders, quiet=3)
    assert sorted(e.pairs["customer_id"]) == ["cancelled", "edge", "none", "old"]
    assert _reason(e, "recent") == ("quiet_period", "bought 2 days ago (quiet period 3 days)")
    assert _reason(e, "returned") == ("quiet_period", "bought 1 day ago (quiet period 3 days)")
    assert _reason(e, "today") == ("quiet_period", "bought today (quiet period 3 days)")
    assert e.funnel[4] == {"step": "not in quiet period", "customers": 4, "excluded": 3}
    # no quiet period: nobody excluded by it
    e0 = _run(["recent", "today"], log, orders=orders, quiet=0)
    assert len(e0.pairs) == 2 and e0.funnel[4]["excluded"] == 0


# -- funnel and edge cases ---------------------------------------------------------------------

def test_funnel_shape_and_duplicates():
    log = _consents(_granted("a", "b"))
    e = _run(["a", "a", None, "b", "c"], log)
    assert [s["step"] for s in e.funnel] == list(STEPS)
    assert e.funnel[0] == {"step": "in audience", "customers": 3, "excluded": 0}
    assert e.funnel[-1]["customers"] == 2
    assert list(e.pairs.columns) == ["customer_id", "channel"]
    assert list(e.excluded.columns) == ["customer_id", "reason_code", "reason"]


def test_empty_inputs_and_missing_columns():
    e = _run([], _consents([]))
    assert e.pairs.empty and e.excluded.empty and all(s["customers"] == 0 for s in e.funnel)
    e = _run(["a"], _consents([]))
    assert e.pairs.empty and _reason(e, "a")[0] == "no_consent"
    with pytest.raises(ContractError):
        _run(["a"], _consents([]).drop(columns="purpose"))
    with pytest.raises(ContractError):
        _run(["a"], _consents([]), sends=NO_SENDS.drop(columns="sent_at"))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 12),
    consent=st.lists(st.tuples(st.integers(0, 11), st.sampled_from(["sms", "email"]),
                               st.sampled_from(["marketing", "service"]), st.integers(-40, 5),
                               st.booleans()), max_size=40),
    sends=st.lists(st.tuples(st.integers(0, 11), st.integers(-40, 2)), max_size=30),
    orders=st.lists(st.tuples(st.integers(0, 11), st.integers(-10, 2),
                              st.sampled_from(["completed", "cancelled", "returned"])), max_size=20),
    supp=st.sets(st.integers(0, 11), max_size=4),
    cap=st.integers(1, 3),
    quiet=st.integers(0, 5),
)
def test_every_customer_once_and_rules_hold(n, consent, sends, orders, supp, cap, quiet):
    cid = [f"c{i}" for i in range(12)]
    log = _consents([(cid[i], ch, p, AS_OF + timedelta(days=d), g) for i, ch, p, d, g in consent])
    snd = _sends([(cid[i], AS_OF + timedelta(days=d)) for i, d in sends])
    ords = _orders([(cid[i], AS_OF + timedelta(days=d), s) for i, d, s in orders])
    audience = cid[:n]
    fc = FrequencyCap(max_contacts=cap, days=14)
    e = _run(audience, log, sends=snd, orders=ords, suppressed={"unsubscribed": {cid[i] for i in supp}},
             cap=fc, quiet=quiet, channels=(SMS, EMAIL))
    in_pairs = set(e.pairs["customer_id"])
    in_excl = list(e.excluded["customer_id"])
    assert len(in_excl) == len(set(in_excl)) and not in_pairs & set(in_excl)
    assert in_pairs | set(in_excl) == set(audience)
    assert sum(s["excluded"] for s in e.funnel) == len(in_excl)
    assert e.funnel[-1]["customers"] == len(in_pairs)
    steps = e.funnel
    assert all(steps[i - 1]["customers"] - steps[i]["excluded"] == steps[i]["customers"]
               for i in range(1, len(steps)))
    # nobody without consent for the channel, suppressed, over the cap or in the quiet period
    cur = current_consent(log, as_of=AS_OF)
    ok = set(map(tuple, cur.loc[cur["granted"] & (cur["purpose"] == "marketing"),
                                ["customer_id", "channel"]].to_numpy()))
    assert set(map(tuple, e.pairs[["customer_id", "channel"]].to_numpy())) <= ok
    assert not in_pairs & {cid[i] for i in supp}
    window = snd[(snd["sent_at"] > AS_OF - timedelta(days=14)) & (snd["sent_at"] <= AS_OF)]
    over = set(window["customer_id"].value_counts().loc[lambda c: c >= cap].index)
    assert not in_pairs & over
    if quiet:
        q = ords[(ords["status"] != "cancelled") & (ords["ordered_at"] > AS_OF - timedelta(days=quiet))
                 & (ords["ordered_at"] <= AS_OF)]
        assert not in_pairs & set(q["customer_id"])
