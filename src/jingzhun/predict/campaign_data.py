"""A past campaign as a modelling table: who was treated, what they did, what was known of them
before the send. Pure functions of DataFrames; ``pipeline_uplift.py`` reads the warehouse.

The grain is one row per customer of the campaign's ``sends`` in the compared arms (one treated
arm, or all of them pooled, against ``control``):

* ``treatment`` -- 1 for the treated arm(s), 0 for ``control``;
* the outcome, from ``responses`` within the campaign: ``conversion`` (1 when the customer has a
  ``conversion`` response), ``visit`` (1 with a ``visit`` response), ``revenue`` (the sum of
  the conversions' ``revenue``, in the orders' currency; 0 without one);
* features known before the send: the source's pre-campaign ``customers.attributes`` (JSON, e.g.
  Hillstrom's past-year spend and recency) and, where the warehouse has orders, the customer
  profile as of the day before the send (built by the caller). Numbers stay numbers; text
  columns become one indicator per value (the most frequent ``_MAX_LEVELS``, the rest
  ``other``). Nothing measured after the send may enter: the caller builds the profile as of
  the send, and the attribute names are the source's pre-campaign fields.

Design choice: an outcome that the control arm cannot show (clicks on a message never sent) has no
counterfactual, so its uplift cannot be estimated; :func:`campaign_outcomes` refuses it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError

__all__ = ["OUTCOMES", "CampaignData", "attribute_features", "campaign_outcomes", "join_features",
           "profile_features"]

#: Outcomes that can be modelled, and what they are made of.
OUTCOMES = {"conversion": ("conversion",), "visit": ("visit",),
            "revenue": ("conversion",)}
CONTROL_ARM = "control"
_MAX_LEVELS = 12
#: Profile columns that are not features: ids, dates, and what only describes the run.
_NOT_FEATURES = {"customer_id", "as_of", "first_order_at", "last_order_at", "last_event_at",
                 "signup_at", "clv", "p_alive", "city", "province"}


@dataclass(frozen=True)
class CampaignData:
    """The modelling table of a campaign.

    Attributes
    ----------
    customer_id : ndarray of str, shape (n,)
    X : pandas.DataFrame, shape (n, k)
        Numeric features (floats; indicators 0/1), known before the send.
    y : ndarray of float, shape (n,)
        The outcome (0/1, or revenue in the orders' currency).
    treatment : ndarray of int, shape (n,)
        1 treated, 0 control.
    arms : tuple of str
        The treated arm(s) compared with ``control``.
    outcome : str
        A key of ``OUTCOMES``.
    """

    customer_id: np.ndarray
    X: pd.DataFrame
    y: np.ndarray
    treatment: np.ndarray
    arms: tuple[str, ...]
    outcome: str

    @property
    def is_binary(self) -> bool:
        """Whether the outcome is 0/1 (conversion, visit) rather than an amount (revenue)."""
        return self.outcome != "revenue"


def campaign_outcomes(sends: pd.DataFrame, responses: pd.DataFrame, *, outcome: str,
                      arm: str | None = None, campaign_id: str = "the campaign") -> pd.DataFrame:
    """One row per customer of the compared arms: ``customer_id``, ``arm``, ``treatment``, ``y``.

    Parameters
    ----------
    sends : DataFrame with ``customer_id``, ``arm``
        The campaign's sends (one row per customer).
    responses : DataFrame with ``customer_id``, ``type``, ``revenue``
        The campaign's responses.
    outcome : {"conversion", "visit", "revenue"}
    arm : str, optional
        The treated arm to compare with ``control``; default: the only non-control arm, or all
        of them pooled when there are several (the result says which).
    """
    if outcome not in OUTCOMES:
        raise ConfigError(f"unknown outcome {outcome!r}", hint=f"choose one of: {', '.join(OUTCOMES)}")
    arms_present = sorted(set(sends["arm"].dropna()) - {CONTROL_ARM})
    if CONTROL_ARM not in set(sends["arm"]):
        raise ConfigError(f"{campaign_id} has no '{CONTROL_ARM}' arm: without a control group "
                          "the effect of the contact cannot be measured",
                          hint="uplift needs a randomised control group (arm = 'control' in sends)")
    if not arms_present:
        raise ConfigError(f"{campaign_id} has only control customers", hint="check the sends table")
    if arm is not None and arm not in arms_present:
        raise ConfigError(f"{campaign_id} has no arm {arm!r}",
                          hint=f"its treated arms are: {', '.join(arms_present)}")
    treated = (arm,) if arm else tuple(arms_present)
    rows = sends[sends["arm"].isin((*treated, CONTROL_ARM))][["customer_id", "arm"]]
    rows = rows.drop_duplicates("customer_id").reset_index(drop=True)
    rows["treatment"] = (rows["arm"] != CONTROL_ARM).astype(np.int64)
    kinds = responses[responses["type"].isin(OUTCOMES[outcome])]
    if outcome == "revenue":
        revenue = pd.to_numeric(kinds["revenue"], errors="coerce").fillna(0.0)
        value = revenue.groupby(kinds["customer_id"]).sum()
    else:
        value = pd.Series(1.0, index=pd.Index(kinds["customer_id"].unique()))
    rows["y"] = rows["customer_id"].map(value).fillna(0.0).astype(float)
    _check_counterfactual(rows, set(kinds["customer_id"]), outcome, campaign_id)
    return rows


def _check_counterfactual(rows: pd.DataFrame, responders: set, outcome: str, campaign_id: str) -> None:
    """Refuse an outcome whose responses exist for treated customers only (or for nobody)."""
    responded = rows["customer_id"].isin(responders)
    control_has = (responded & (rows["treatment"] == 0)).any()
    treated_has = (responded & (rows["treatment"] == 1)).any()
    if treated_has and not control_has:
        n_control = int((rows["treatment"] == 0).sum())
        raise ConfigError(
            f"{campaign_id}: none of the {n_control:,} control customers has a {outcome}, so the "
            "campaign's effect on it cannot be estimated: either it is only recorded for contacted "
            "customers (e.g. a visit through the message's link) or the control group is too small "
            "to show it",
            hint="choose an outcome that the control group can show too (conversion, revenue), "
                 "or a campaign with a larger control group")
    if not treated_has and not control_has:
        raise ConfigError(f"{campaign_id}: nobody has a {outcome}: nothing to model",
                          hint="check the responses table or choose another outcome")


def attribute_features(customers: pd.DataFrame) -> pd.DataFrame:
    """Features from ``customers.attributes`` (JSON objects; missing or empty: no column), indexed
    by ``customer_id``: numbers as floats, text as indicators. Empty frame when no customer has
    attributes."""
    parsed = [json.loads(a) if isinstance(a, str) and a else {} for a in customers["attributes"]]
    frame = pd.DataFrame.from_records(parsed, index=pd.Index(customers["customer_id"], name="customer_id"))
    return _numeric(frame, prefix="attr_")


def profile_features(profile: pd.DataFrame) -> pd.DataFrame:
    """Features from a customer profile (``customer_profile``'s columns) indexed by ``customer_id``:
    every numeric column (dates and ids left out), text columns (lifecycle stage, top category,
    channel, gender, age band, ...) as indicators."""
    frame = profile.set_index("customer_id")
    frame = frame.drop(columns=[c for c in _NOT_FEATURES if c in frame.columns])
    return _numeric(frame, prefix="profile_")


def _numeric(frame: pd.DataFrame, *, prefix: str) -> pd.DataFrame:
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            out[prefix + name] = pd.to_numeric(col, errors="coerce").astype(float)
        elif pd.api.types.is_datetime64_any_dtype(col):
            continue
        else:
            text = col.astype("string")
            top = text.value_counts().index[:_MAX_LEVELS]
            for level in top:
                out[f"{prefix}{name}={level}"] = (text == level).fillna(False).astype(float)
            if text.notna().any() and len(top) < text.nunique():
                out[f"{prefix}{name}=other"] = (~text.isin(top) & text.notna()).astype(float)
    return pd.DataFrame(out, index=frame.index)


def join_features(outcomes: pd.DataFrame, *feature_frames: pd.DataFrame, outcome: str,
                  arms: tuple[str, ...]) -> CampaignData:
    """The modelling table: ``outcomes`` (``campaign_outcomes``) with the features of each
    customer (frames indexed by ``customer_id``; a customer missing from a frame gets NaN there,
    which LightGBM handles and other estimators need imputed)."""
    frames = [f for f in feature_frames if f is not None and f.shape[1] > 0]
    if not frames:
        raise ConfigError("no feature is known of the campaign's customers before the send",
                          hint="ingest orders (for the profile) or customer attributes first")
    X = outcomes[["customer_id"]].set_index("customer_id")
    for f in frames:
        X = X.join(f, how="left")
    X = X.reset_index(drop=True).astype(float)
    return CampaignData(customer_id=outcomes["customer_id"].to_numpy(), X=X,
                        y=outcomes["y"].to_numpy(float), treatment=outcomes["treatment"].to_numpy(),
                        arms=arms, outcome=outcome)
