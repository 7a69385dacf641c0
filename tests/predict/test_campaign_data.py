"""A past campaign as a modelling table: arms, outcomes, pre-send features, refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from jingzhun.errors import ConfigError
from jingzhun.predict.campaign_data import (
    attribute_features,
    campaign_outcomes,
    join_features,
    profile_features,
)

SENDS = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                      "arm": ["mens", "womens", "control", "womens", "control"]})
RESPONSES = pd.DataFrame({"customer_id": ["b", "b", "c", "d", "a"],
                          "type": ["visit", "conversion", "visit", "visit", "conversion"],
                          "revenue": [None, "12.50", None, None, "3"]})


def test_one_arm_against_control_with_each_outcome():
    visit = campaign_outcomes(SENDS, RESPONSES, outcome="visit", arm="womens")
    assert list(visit["customer_id"]) == ["b", "c", "d", "e"]
    assert list(visit["treatment"]) == [1, 0, 1, 0] and list(visit["y"]) == [1.0, 1.0, 1.0, 0.0]
    revenue = campaign_outcomes(SENDS, RESPONSES.assign(customer_id=["b", "b", "e", "d", "a"],
                                                        type=["conversion"] * 5),
                                outcome="revenue", arm="womens")
    assert dict(zip(revenue["customer_id"], revenue["y"], strict=True)) == {
        "b": 12.5, "c": 0.0, "d": 0.0, "e": 0.0}


def test_arms_are_pooled_by_default():
    pooled = campaign_outcomes(SENDS, RESPONSES, outcome="visit")
    assert len(pooled) == 5 and pooled["treatment"].sum() == 3


@pytest.mark.parametrize(("sends", "arm", "message"), [
    (SENDS.assign(arm="womens"), None, "no 'control' arm"),
    (SENDS, "kids", "has no arm 'kids'"),
    (SENDS.assign(arm="control"), None, "only control customers")])
def test_campaigns_that_cannot_be_measured_are_refused(sends, arm, message):
    with pytest.raises(ConfigError, match=message) as err:
        campaign_outcomes(sends, RESPONSES, outcome="visit", arm=arm)
    assert err.value.hint


def test_an_outcome_only_treated_customers_can_show_is_refused():
    """Clicks through an SMS link: the control group got no SMS, so no counterfactual."""
    responses = RESPONSES[RESPONSES["customer_id"] != "c"]
    with pytest.raises(ConfigError, match="only recorded for contacted customers"):
        campaign_outcomes(SENDS, responses, outcome="visit")


def test_attribute_and_profile_features_are_numeric_with_indicators():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c"], "attributes": [
        json.dumps({"history_amount": 120.5, "zip_code": "Urban", "newbie": 1}),
        json.dumps({"history_amount": 30.0, "zip_code": "Rural", "newbie": 0}), None]})
    attrs = attribute_features(customers)
    assert attrs.loc["a", "attr_history_amount"] == 120.5
    assert attrs.loc["b", "attr_zip_code=Rural"] == 1.0 and attrs.loc["a", "attr_zip_code=Rural"] == 0.0
    assert np.isnan(attrs.loc["c", "attr_history_amount"])
    profile = pd.DataFrame({"customer_id": ["a", "c"], "orders": [3, 1],
                            "lifecycle_stage": ["active", "lost"],
                            "last_order_at": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                            "as_of": ["2024-03-01"] * 2})
    prof = profile_features(profile)
    assert list(prof.columns) == ["profile_orders", "profile_lifecycle_stage=active",
                                  "profile_lifecycle_stage=lost"]
    outcomes = campaign_outcomes(SENDS, RESPONSES, outcome="visit")
    data = join_features(outcomes, attrs, prof, outcome="visit", arms=("mens", "womens"))
    assert data.X.shape == (5, attrs.shape[1] + prof.shape[1])
    assert data.X.loc[0, "profile_orders"] == 3.0 and np.isnan(data.X.loc[1, "profile_orders"])
    with pytest.raises(ConfigError, match="no feature is known"):
        join_features(outcomes, outcome="visit", arms=("mens",))
