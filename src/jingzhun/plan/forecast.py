"""Campaign economics and the plan's forecast, next to the mass-contact baseline.

Two ratios are reported side by side because the field uses the word "ROI" for both:

* ``revenue_to_cost`` = revenue / cost. This is what the worked example of the campaign-planning
  issue calls "ROI": mass contact of 20,000 customers at 5 yuan each, 474 responders at 210 yuan
  -> 99,540 / 100,000 = 0.9954 ("99%"); the model's 2,000 customers at 12.5 yuan, 222
  responders -> 46,620 / 25,000 = 1.8648 ("186%"). It ignores the cost of the goods sold.
* ``roi`` = profit / cost with profit = revenue x margin_rate - cost: what the campaign returns
  per currency unit spent. Only defined when a margin is given and the cost is positive.

In :func:`forecast` and :func:`mass_baseline` "revenue" and "conversions" are *incremental*
(over what the customers would have bought uncontacted), as estimated by
:func:`jingzhun.plan.value.expected_profit`; "cost" is contact cost plus expected offer cost
(the discounts given, including those to customers who would have bought anyway).

Degenerate inputs give an explicit ``None`` (a ratio with a zero denominator), never a silent 0.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from jingzhun.errors import ContractError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from jingzhun.plan.spec import ChannelSpec

log = logging.getLogger(__name__)

#: Columns of ``expected_profit``'s output that the forecast adds up.
FORECAST_COLUMNS = (
    "customer_id", "channel", "offer_id", "expected_incremental_conversions",
    "expected_incremental_revenue", "contact_cost", "expected_offer_cost",
)


@dataclass(frozen=True)
class Economics:
    """The economics of one contact campaign (all money in the campaign's currency).

    Attributes
    ----------
    contacts : int
        Customers contacted.
    cost : float
        contacts x cost per contact + fixed cost.
    responders : float
        Expected (or observed) responders.
    response_rate : float
        responders / contacts (a share, 0.0237 = 2.37%); NaN when nobody is contacted.
    revenue : float
        responders x revenue per responder.
    revenue_to_cost : float
        revenue / cost (the worked example's "ROI"); NaN when the cost is 0.
    profit : float or None
        revenue x margin_rate - cost; None without a margin rate.
    roi : float or None
        profit / cost (profit-based ROI); None without a margin rate or with zero cost.
    """

    contacts: int
    cost: float
    responders: float
    response_rate: float
    revenue: float
    revenue_to_cost: float
    profit: float | None
    roi: float | None


def campaign_economics(
    contacts: int,
    cost_per_contact: float,
    responders: float,
    revenue_per_responder: float,
    *,
    margin_rate: float | None = None,
    fixed_cost: float = 0.0,
) -> Economics:
    """Cost, response rate, revenue and both ROIs of a campaign.

    Parameters
    ----------
    contacts : int
        Customers contacted (>= 0).
    cost_per_contact : float
        Cost of one contact, currency (>= 0).
    responders : float
        Responders (>= 0, at most ``contacts``).
    revenue_per_responder : float
        Revenue of one responder, currency (>= 0).
    margin_rate : float, optional
        Gross margin as a share of revenue (0.3 = 30%); without it profit and roi are None.
    fixed_cost : float, default 0.0
        Campaign cost that does not grow with contacts (creative, set-up), currency.

    Returns
    -------
    Economics
    """
    for name, v in (("contacts", contacts), ("cost_per_contact", cost_per_contact),
                    ("responders", responders), ("revenue_per_responder", revenue_per_responder),
                    ("fixed_cost", fixed_cost)):
        if not (isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(v) and v >= 0):
            raise InputError(f"campaign_economics: {name}={v!r} must be a finite number >= 0",
                             hint="pass counts and money amounts as non-negative numbers")
    if responders > contacts:
        raise InputError(f"campaign_economics: responders={responders!r} exceeds contacts={contacts!r}",
                         hint="responders are a subset of the contacted customers")
    if margin_rate is not None and not (math.isfinite(margin_rate) and 0 <= margin_rate <= 1):
        raise InputError(f"campaign_economics: margin_rate={margin_rate!r} must lie in [0, 1]",
                         hint="give the margin as a share of revenue, e.g. 0.3 for 30%")
    cost = float(contacts * cost_per_contact + fixed_cost)
    revenue = float(responders * revenue_per_responder)
    response_rate = float(responders / contacts) if contacts > 0 else math.nan
    revenue_to_cost = revenue / cost if cost > 0 else math.nan
    profit = roi = None
    if margin_rate is not None:
        profit = revenue * margin_rate - cost
        roi = profit / cost if cost > 0 else None
    return Economics(int(contacts), cost, float(responders), response_rate, revenue,
                     revenue_to_cost, profit, roi)


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractError(f"{what}: missing column(s) {', '.join(missing)}",
                            hint="pass rows of jingzhun.plan.value.expected_profit's output")


def _totals(rows: pd.DataFrame, margin_rate: float) -> dict[str, Any]:
    """Totals over option rows: one row = one contact. NaN estimates count as 0 (and are counted)."""
    contacts = int(len(rows))
    by_channel = {str(k): int(v) for k, v in rows["channel"].value_counts(sort=False).items()}
    contact_cost = float(rows["contact_cost"].sum())
    offer_cost = float(rows["expected_offer_cost"].sum())
    cost = contact_cost + offer_cost
    conversions = float(rows["expected_incremental_conversions"].sum())
    revenue = float(rows["expected_incremental_revenue"].sum())
    profit = revenue * margin_rate - cost
    no_estimate = int(rows["expected_incremental_revenue"].isna().sum())
    if no_estimate:
        log.warning("%d contact(s) have no value estimate; counted with 0 incremental revenue",
                    no_estimate)
    return {
        "contacts": contacts,
        "contacts_by_channel": by_channel,
        "contact_cost": contact_cost,
        "offer_cost": offer_cost,
        "cost": cost,
        "expected_incremental_conversions": conversions,
        "incremental_revenue": revenue,
        "incremental_profit": profit,
        "roi": profit / cost if cost > 0 else None,
        "revenue_to_cost": revenue / cost if cost > 0 else None,
        "contacts_without_estimate": no_estimate,
    }


def forecast(chosen: pd.DataFrame, *, margin_rate: float) -> dict[str, Any]:
    """Totals of a plan: the chosen option rows of ``expected_profit``'s output.

    Parameters
    ----------
    chosen : DataFrame
        One row per contacted customer (treatment arm only), with the columns of
        ``expected_profit``'s output (at least :data:`FORECAST_COLUMNS`).
    margin_rate : float
        Gross margin as a share of revenue.

    Returns
    -------
    dict
        ``contacts`` (int), ``contacts_by_channel`` (channel -> int), ``contact_cost``,
        ``offer_cost`` and ``cost`` (= their sum; currency), ``expected_incremental_conversions``,
        ``incremental_revenue`` (currency), ``incremental_profit`` (= revenue x margin - cost),
        ``roi`` (profit / cost, None at zero cost), ``revenue_to_cost`` (revenue / cost, the
        worked example's "ROI"; None at zero cost) and ``contacts_without_estimate`` (rows whose
        value is NaN, counted with 0 revenue).
    """
    _require(chosen, FORECAST_COLUMNS, "forecast")
    return _totals(chosen, margin_rate)


def mass_baseline(
    candidates: pd.DataFrame, *, channels: Sequence[ChannelSpec], margin_rate: float
) -> dict[str, Any]:
    """The same totals as :func:`forecast` if everyone in ``candidates`` were contacted.

    Each customer is contacted once, on the cheapest channel present among its rows (by the
    channel spec's ``cost_per_contact``; ties go to the channel listed first), with no offer: the
    row whose offer costs least (an offer whose id is ``"none"`` wins a tie, then the first
    listed). No budget and no channel capacity applies: this is the "contact the whole
    audience" rule a plan is compared with.

    Parameters
    ----------
    candidates : DataFrame
        ``expected_profit``'s output for the eligible (customer, channel) pairs.
    channels : sequence of ChannelSpec
        The campaign's channels (for their cost and order).
    margin_rate : float
        Gross margin as a share of revenue.

    Returns
    -------
    dict
        As :func:`forecast`.
    """
    _require(candidates, FORECAST_COLUMNS, "mass_baseline")
    if candidates.empty:
        return _totals(candidates, margin_rate)
    rank = {c.name: (float(c.cost_per_contact), i) for i, c in enumerate(channels)}
    unknown = sorted({str(c) for c in candidates["channel"].unique()} - set(rank))
    if unknown:
        raise ContractError(f"mass_baseline: channel(s) {', '.join(unknown)} are not in the spec",
                            hint="pass the campaign's channel specs")
    rows = candidates.reset_index(drop=True)
    channel_codes, channel_values = pd.factorize(rows["channel"].astype(str))
    channel_cost = np.array([rank[c][0] for c in channel_values])[channel_codes]
    channel_pos = np.array([rank[c][1] for c in channel_values])[channel_codes]
    offer_cost = rows["expected_offer_cost"].to_numpy(dtype=float, na_value=np.inf)
    not_none = (rows["offer_id"].astype(str) != "none").to_numpy()
    customer = pd.factorize(rows["customer_id"])[0]
    # per customer: cheapest channel, its spec order, cheapest offer, "none" first, input order
    order = np.lexsort((np.arange(len(rows)), not_none, offer_cost, channel_pos, channel_cost, customer))
    first = order[np.append(True, customer[order][1:] != customer[order][:-1])]
    return _totals(rows.iloc[np.sort(first)], margin_rate)
