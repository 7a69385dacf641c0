"""Expected incremental profit of each (customer, channel, offer) option.

The model (a judgement call; every quantity is per customer, over the campaign's horizon):

* ``uplift`` is P(an extra conversion in the horizon | contacted) from the uplift model, and
  ``response`` is P(conversion | contacted) from the response model. A customer who would buy
  anyway converts with ``baseline_prob = response - uplift``, clipped to [0, 1]. Without a
  response score the baseline is taken as 0 (the offer cost then only covers the extra
  conversions; ``value_source`` says so).
* The option's uplift is ``uplift x channel.uplift_factor x offer.uplift_factor``, clipped so that
  ``0 <= baseline_prob + uplift <= 1`` (a negative uplift, a "sleeping dog", is kept: its value is
  negative and the allocation does not contact it).
* An offer applies to an order worth at least its ``min_order``; the customer's expected order
  value stands for the order. An offer that cannot apply neither costs nor lifts anything (its
  ``uplift_factor`` is not used).
* Revenue: ``expected_incremental_revenue = uplift_option x conversion_value`` at list price,
  where ``conversion_value`` is what one extra conversion is worth -- the order value by default;
  a retention campaign passes the customer's CLV (a kept customer keeps their future purchases);
  the discounts are all in the offer cost, which always works on the order value.
* Offer cost: every converting customer who redeems is paid the offer -- the extra conversions
  *and* those who would have bought anyway, which is the cost of discounting sure buyers:
  ``expected_offer_cost = (baseline_prob + uplift_option) x redemption_rate x cost per redemption``
  with cost per redemption ``value x order_value`` (percent: the discount lowers the revenue of
  every redeeming order), ``value`` (fixed, points: currency per order; free_shipping: the
  shipping paid per order) or 0 (none).
* ``value = uplift_option x conversion_value x margin_rate - contact_cost - expected_offer_cost``
  (expected incremental profit, currency) and ``cost = contact_cost + expected_offer_cost`` (what
  the budget pays).

Fallback where the uplift model gives nothing (``uplift`` NaN): ``fallback_rates[segment]``, the
segment's response rate in past campaigns minus its control group's rate where that is known
(the pipeline passes what it can compute), stands for the uplift; ``value_source`` says
``"fallback: segment response rate"``. With neither, the option's value is NaN and
``value_source`` is ``"no model"``: such rows are returned, so the plan can say why the customer
is not contacted, but they must never be chosen (the allocation drops NaN and non-positive
values). A customer without an expected order value gets NaN and ``"no order value"``.

Content is chosen per customer, not per option: the first content whose ``segment`` is the
customer's segment (and whose language, if any, is the customer's), else the first
segment-less content in the customer's ``language``, else the first content with neither
(the default), else the first content listed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jingzhun.errors import ContractError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from jingzhun.plan.spec import ChannelSpec, ContentSpec, OfferSpec

log = logging.getLogger(__name__)

#: Output columns, in order (one row per customer, channel and offer).
COLUMNS = (
    "customer_id", "channel", "offer_id", "content_id", "option", "expected_uplift", "baseline_prob",
    "expected_incremental_conversions", "expected_incremental_revenue", "contact_cost",
    "expected_offer_cost", "value", "cost", "value_source",
)

SOURCE_MODEL = "uplift model"
SOURCE_MODEL_NO_BASELINE = "uplift model (no response score: baseline taken as 0)"
SOURCE_FALLBACK = "fallback: segment response rate"
SOURCE_NONE = "no model"
SOURCE_NO_ORDER_VALUE = "no order value"


def _numbers(customers: pd.DataFrame, name: str, low: float, high: float) -> np.ndarray:
    x = pd.to_numeric(customers[name], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isnan(x) & ((x < low) | (x > high))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"expected_profit: {name}={x[i]!r} for customer "
                         f"{customers['customer_id'].iloc[i]!r} is outside [{low:g}, {high:g}]",
                         hint=f"{name} must be a probability" if high == 1 else f"{name} must be >= 0")
    return x


def _choose_content(segment: pd.Series, language: pd.Series, contents: Sequence[ContentSpec]) -> np.ndarray:
    """content_id per customer (object array; None without contents)."""
    chosen = pd.Series(None, index=segment.index, dtype=object)
    for c in contents:  # 1. the customer's segment (in its language, if the content has one)
        if c.segment is not None:
            hit = chosen.isna() & (segment == c.segment)
            if c.language is not None:
                hit &= language == c.language
            chosen[hit] = c.content_id
    for c in contents:  # 2. the customer's language
        if c.segment is None and c.language is not None:
            chosen[chosen.isna() & (language == c.language)] = c.content_id
    default = next((c for c in contents if c.segment is None and c.language is None),
                   contents[0] if contents else None)
    if default is not None:
        chosen[chosen.isna()] = default.content_id
    return chosen.to_numpy(dtype=object)


def _take(values: list, index: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[index]`` as a string array, gathered without a Python loop over the rows."""
    return pd.array(values, dtype="str").take(index)


def _per_redemption(offer: OfferSpec, order_value: np.ndarray) -> np.ndarray:
    if offer.type == "percent":
        return offer.value * order_value
    if offer.type in ("fixed", "points", "free_shipping"):
        return np.full_like(order_value, float(offer.value))
    return np.zeros_like(order_value)


def expected_profit(
    customers: pd.DataFrame,
    *,
    channels: Sequence[ChannelSpec],
    offers: Sequence[OfferSpec],
    contents: Sequence[ContentSpec],
    margin_rate: float,
    fallback_rates: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Expected incremental profit of contacting each customer on each channel with each offer.

    Parameters
    ----------
    customers : DataFrame
        One row per customer: ``customer_id``; ``uplift`` (P(extra conversion in the horizon |
        contacted), may be NaN); ``response`` (P(conversion | contacted), may be NaN);
        ``order_value`` (expected value of an order, currency); ``segment`` (for the fallback
        and content); optional ``language`` and ``conversion_value`` (what one extra conversion
        is worth, currency; default, or where NaN: ``order_value``).
    channels : sequence of ChannelSpec
        Channels, with cost per contact (currency) and uplift factor.
    offers : sequence of OfferSpec
        Offers, with their cost model (see the module docstring); include a ``none`` offer to
        consider contacting without an incentive.
    contents : sequence of ContentSpec
        Content variants per segment or language; the default has neither.
    margin_rate : float
        Gross margin as a share of revenue, in [0, 1].
    fallback_rates : mapping of str to float, optional
        Segment -> uplift to assume where the model gives none (past response rate minus
        control rate).

    Returns
    -------
    DataFrame
        One row per (customer, channel, offer), customer-major in input order, with the columns
        :data:`COLUMNS`; probabilities are shares, money in the currency of ``order_value``.
    """
    missing = [c for c in ("customer_id", "uplift", "response", "order_value", "segment")
               if c not in customers.columns]
    if missing:
        raise ContractError(f"expected_profit: customers lacks column(s) {', '.join(missing)}",
                            hint="one row per customer with uplift, response, order_value and segment")
    if not channels or not offers:
        raise InputError("expected_profit: at least one channel and one offer are needed",
                         hint="add an offer {offer_id: none, type: none} to contact without incentive")
    if not (math.isfinite(margin_rate) and 0 <= margin_rate <= 1):
        raise InputError(f"expected_profit: margin_rate={margin_rate!r} must lie in [0, 1]",
                         hint="give the margin as a share of revenue, e.g. 0.35")
    customers = customers.reset_index(drop=True)
    ids = customers["customer_id"].astype(str)
    if ids.duplicated().any():
        raise InputError(f"expected_profit: customer {ids[ids.duplicated()].iloc[0]!r} appears twice",
                         hint="pass one row per customer")

    uplift = _numbers(customers, "uplift", -1.0, 1.0)
    response = _numbers(customers, "response", 0.0, 1.0)
    order_value = _numbers(customers, "order_value", 0.0, math.inf)
    conversion_value = order_value
    if "conversion_value" in customers.columns:
        given = _numbers(customers, "conversion_value", 0.0, math.inf)
        conversion_value = np.where(np.isnan(given), order_value, given)
    segment = customers["segment"]
    language = customers["language"] if "language" in customers.columns else pd.Series(
        None, index=customers.index, dtype=object)

    # per customer: where the uplift comes from, and the would-buy-anyway probability
    has_model = ~np.isnan(uplift)
    fallback = segment.map(dict(fallback_rates or {})).astype(float).to_numpy()
    use_fallback = ~has_model & ~np.isnan(fallback)
    base_uplift = np.where(has_model, uplift, np.where(use_fallback, fallback, np.nan))
    has_response = ~np.isnan(response)
    baseline = np.where(has_response, np.clip(response - np.nan_to_num(base_uplift), 0.0, 1.0), 0.0)
    baseline = np.where(np.isnan(base_uplift), np.nan, baseline)
    source = np.select(
        [np.isnan(base_uplift), np.isnan(order_value), use_fallback, has_response],
        [SOURCE_NONE, SOURCE_NO_ORDER_VALUE, SOURCE_FALLBACK, SOURCE_MODEL],
        SOURCE_MODEL_NO_BASELINE).astype(object)
    content = _choose_content(segment, language, contents)

    n, n_ch, n_of = len(customers), len(channels), len(offers)
    # arrays of shape (customer, channel, offer); raveled in C order they are the output rows
    per_redemption = np.zeros((n, n_of))      # (customer, offer)
    offer_factor = np.ones((n, n_of))
    for j, offer in enumerate(offers):
        ok = np.ones(n, dtype=bool) if offer.min_order is None else order_value >= offer.min_order
        per_redemption[:, j] = np.where(ok, _per_redemption(offer, order_value), 0.0)
        offer_factor[:, j] = np.where(ok, float(offer.uplift_factor), 1.0)
    redemption = np.array([float(o.redemption_rate) for o in offers])[None, None, :]
    channel_factor = np.array([float(c.uplift_factor) for c in channels])[None, :, None]
    contact = np.array([float(c.cost_per_contact) for c in channels])[None, :, None]
    base = baseline[:, None, None]

    option_uplift = np.clip(base_uplift[:, None, None] * channel_factor * offer_factor[:, None, :],
                            -base, 1.0 - base)
    revenue = option_uplift * conversion_value[:, None, None]
    offer_cost = np.where(per_redemption[:, None, :] == 0, 0.0,
                          (base + option_uplift) * redemption * per_redemption[:, None, :])
    contact_cost = np.broadcast_to(contact, option_uplift.shape)
    value = revenue * margin_rate - contact_cost - offer_cost
    option_uplift, revenue, offer_cost, value = (a.ravel() for a in (option_uplift, revenue, offer_cost,
                                                                     value))
    contact_cost = contact_cost.ravel()
    base = np.repeat(baseline, n_ch * n_of)
    cust = np.repeat(np.arange(n), n_ch * n_of)
    ch = np.tile(np.repeat(np.arange(n_ch), n_of), n)
    of = np.tile(np.arange(n_of), n * n_ch)

    # string columns are gathered from small tables of their distinct values (fast at 10M rows)
    content_codes, content_values = pd.factorize(pd.Series(content, dtype=object), use_na_sentinel=False)
    n_ct = max(len(content_values), 1)
    channel_names = [c.name for c in channels]
    offer_ids = [o.offer_id for o in offers]
    content_names = [None if pd.isna(v) else str(v) for v in content_values] or [None]
    options = [f"{a}|{b}|{'' if c is None else c}" for a in channel_names for b in offer_ids
               for c in content_names]
    content_code = np.asarray(content_codes, dtype=np.int64)[cust] if n else np.zeros(0, dtype=np.int64)
    source_codes, source_values = pd.factorize(pd.Series(source, dtype=object))
    out = pd.DataFrame({
        "customer_id": pd.array(ids, dtype="str").take(cust),
        "channel": _take(channel_names, ch),
        "offer_id": _take(offer_ids, of),
        "content_id": _take(content_names, content_code),
        "option": _take(options, (ch * n_of + of) * n_ct + content_code),
        "expected_uplift": option_uplift,
        "baseline_prob": base,
        "expected_incremental_conversions": option_uplift,
        "expected_incremental_revenue": revenue,
        "contact_cost": contact_cost,
        "expected_offer_cost": offer_cost,
        "value": value,
        "cost": contact_cost + offer_cost,
        "value_source": _take(list(source_values), np.asarray(source_codes, dtype=np.int64)[cust]),
    }, columns=list(COLUMNS))
    counts = pd.Series(source).value_counts().to_dict()
    log.info("expected_profit: %d customers x %d channels x %d offers; value sources %s",
             n, n_ch, n_of, counts)
    return out
