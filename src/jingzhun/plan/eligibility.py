"""Who may be contacted, on which channel: consent, suppression, frequency cap, quiet period.

The audience is narrowed in funnel order (issue 7, item 6):

1. **in audience** -- the customers the campaign's audience expression selected;
2. **has consent** -- per channel: the customer's *current* consent (the latest row of the
   append-only ``consents`` log at or before ``as_of``) for the channel and the channel's
   ``consent_purpose`` is granted. A customer keeps the channels it consented to (it may be
   allowed on email but not on sms) and leaves the funnel when it has none;
3. **not suppressed** -- in none of the ``suppressed`` lists (reason -> customer ids; the
   pipeline builds them from unsubscribes, complaints, erasures, staff and manual lists);
4. **under frequency cap** -- fewer than ``frequency_cap.max_contacts`` sends (all campaigns,
   any channel) with ``sent_at`` in ``(as_of - days, as_of]``, so one more contact keeps the
   customer within the cap. Rows of the ``control`` arm are not counted: a control customer was
   not contacted. Sends without ``sent_at`` cannot be placed in the window and are not counted;
5. **not in quiet period** -- no order that is not ``cancelled`` (completed and returned orders
   count) with ``ordered_at`` in ``(as_of - quiet_days_after_purchase, as_of]``. With 0 quiet
   days nobody is excluded.

All times are naive UTC datetimes, like the warehouse. A customer that fails a step is excluded
with the reason of the *first* failing step only; every audience customer ends either in
``Eligibility.pairs`` (with at least one channel) or in ``Eligibility.excluded``, exactly once.

Two consent rows of the same (customer, channel, purpose) with the same ``changed_at`` are
ambiguous; the revoking one wins (the cautious reading).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from jingzhun.errors import ContractError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from jingzhun.plan.spec import ChannelSpec, FrequencyCap

log = logging.getLogger(__name__)

#: Funnel steps, in order.
STEPS = ("in audience", "has consent", "not suppressed", "under frequency cap", "not in quiet period")

#: reason_code of each exclusion step.
REASON_CODES = {
    "has consent": "no_consent",
    "not suppressed": "suppressed",
    "under frequency cap": "frequency_cap",
    "not in quiet period": "quiet_period",
}


@dataclass(frozen=True)
class Eligibility:
    """The result of :func:`eligibility`.

    Attributes
    ----------
    pairs : DataFrame
        ``customer_id``, ``channel``: one row per (customer, channel) a contact is allowed on.
    excluded : DataFrame
        ``customer_id``, ``reason_code``, ``reason``: one row per audience customer with no
        allowed channel, for the first step it failed (codes in :data:`REASON_CODES`).
    funnel : list of dict
        One dict per step of :data:`STEPS`, in order: ``step``, ``customers`` (remaining after
        the step) and ``excluded`` (removed by the step).
    """

    pairs: pd.DataFrame
    excluded: pd.DataFrame
    funnel: list[dict]


def _require(frame: pd.DataFrame, columns: Sequence[str], table: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ContractError(f"{table}: missing column(s) {', '.join(missing)}",
                            hint=f"pass the canonical {table} table (see jingzhun.contract)")


def _norm(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.lower()


def _times(s: pd.Series) -> pd.Series:
    out = pd.to_datetime(s)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _positions(ids: pd.Index, values: pd.Series) -> np.ndarray:
    """Position of each value in ``ids`` (-1 where absent)."""
    return ids.get_indexer(pd.Index(values.astype(str).to_numpy(dtype=object), dtype=object))


def _as_of(as_of: datetime) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    if ts.tz is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts


def current_consent(consents: pd.DataFrame, *, as_of: datetime) -> pd.DataFrame:
    """The consent in force at ``as_of``: the latest log row per (customer, channel, purpose).

    Parameters
    ----------
    consents : DataFrame
        The ``consents`` log: ``customer_id``, ``channel``, ``purpose``, ``changed_at`` (naive
        UTC), ``granted``.
    as_of : datetime
        Naive UTC; rows changed after it are ignored.

    Returns
    -------
    DataFrame
        ``customer_id``, ``channel``, ``purpose``, ``granted`` (bool): one row per
        (customer, channel, purpose) with a log row at or before ``as_of``, in the log's order.
        Channel and purpose are lower-cased and stripped; on a tie in ``changed_at`` a
        revocation wins.
    """
    _require(consents, ("customer_id", "channel", "purpose", "changed_at", "granted"), "consents")
    cols = ["customer_id", "channel", "purpose", "granted"]
    if consents.empty:
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "granted" else object) for c in cols})
    df = pd.DataFrame({
        "customer_id": consents["customer_id"].astype(str).to_numpy(),
        "channel": _norm(consents["channel"]).to_numpy(),
        "purpose": _norm(consents["purpose"]).to_numpy(),
        "changed_at": _times(consents["changed_at"]).to_numpy(),
        "granted": consents["granted"].fillna(False).astype(bool).to_numpy(),
    })
    df = df[(df["changed_at"] <= _as_of(as_of)).to_numpy()]
    codes = [pd.factorize(df[c])[0].astype(np.int64) for c in cols[:3]]
    key = (codes[0] * (codes[1].max(initial=0) + 1) + codes[1]) * (codes[2].max(initial=0) + 1) + codes[2]
    # per key: latest changed_at last, and at the same instant a revocation after a grant
    order = np.lexsort((~df["granted"].to_numpy(), df["changed_at"].to_numpy(), key))
    last = order[np.append(key[order][1:] != key[order][:-1], True)] if len(order) else order
    return df.iloc[np.sort(last)][cols].reset_index(drop=True)


def _days_ago(days: int) -> str:
    return "today" if days == 0 else "1 day ago" if days == 1 else f"{days} days ago"


def _consent_reason(channels: Sequence[ChannelSpec]) -> str:
    by_purpose: dict[str, list[str]] = {}
    for c in channels:
        by_purpose.setdefault(c.consent_purpose, []).append(c.name)
    return "; ".join(f"no {'/'.join(names)} consent for {purpose}" for purpose, names in by_purpose.items())


def eligibility(
    audience: pd.Series,
    *,
    channels: Sequence[ChannelSpec],
    consents: pd.DataFrame,
    sends: pd.DataFrame,
    orders: pd.DataFrame,
    suppressed: Mapping[str, set[str]],
    frequency_cap: FrequencyCap,
    quiet_days_after_purchase: int,
    as_of: datetime,
) -> Eligibility:
    """Narrow an audience to the (customer, channel) pairs a contact is allowed on.

    Parameters
    ----------
    audience : Series
        Customer ids (duplicates and nulls are dropped).
    channels : sequence of ChannelSpec
        The campaign's channels; each needs consent for its ``consent_purpose``.
    consents : DataFrame
        The ``consents`` log (see :func:`current_consent`).
    sends : DataFrame
        ``sends`` history: ``customer_id``, ``sent_at`` and, optionally, ``arm``.
    orders : DataFrame
        ``orders``: ``customer_id``, ``ordered_at`` (naive UTC), ``status``.
    suppressed : mapping of str to set of str
        Suppression reason (e.g. ``"unsubscribed"``, ``"staff"``) -> customer ids.
    frequency_cap : FrequencyCap
        At most ``max_contacts`` contacts in ``days`` days, across all campaigns.
    quiet_days_after_purchase : int
        Days after a (non-cancelled) order during which a customer is not contacted.
    as_of : datetime
        Naive UTC: the moment the campaign is planned for.

    Returns
    -------
    Eligibility
    """
    if not channels:
        raise InputError("eligibility: no channels given", hint="a campaign needs at least one channel")
    if quiet_days_after_purchase < 0:
        raise InputError(f"eligibility: quiet_days_after_purchase={quiet_days_after_purchase!r} < 0",
                         hint="give the quiet period in whole days >= 0")
    _require(sends, ("customer_id", "sent_at"), "sends")
    _require(orders, ("customer_id", "ordered_at", "status"), "orders")
    at = _as_of(as_of)

    ids = pd.Series(audience).dropna().astype(str)
    ids = pd.Index(ids.drop_duplicates().to_numpy(dtype=object), dtype=object)
    n = len(ids)
    # the kernel works on positions in `ids` (fast for millions of customers)
    alive = np.ones(n, dtype=bool)
    funnel = [{"step": STEPS[0], "customers": n, "excluded": 0}]
    excluded: list[pd.DataFrame] = []

    def _exclude(step: str, drop: np.ndarray, reasons) -> None:
        """Remove the customers at `drop` (positions, all alive) with one reason each."""
        alive[drop] = False
        funnel.append({"step": step, "customers": funnel[-1]["customers"] - len(drop),
                       "excluded": len(drop)})
        if len(drop):
            excluded.append(pd.DataFrame({
                "customer_id": ids.to_numpy()[drop], "reason_code": REASON_CODES[step],
                "reason": reasons if isinstance(reasons, str) else np.asarray(reasons, dtype=object),
            }))

    # 2. consent, per channel
    consent = current_consent(consents, as_of=at)
    consent = consent[consent["granted"].to_numpy()]
    where = _positions(ids, consent["customer_id"])
    allowed = np.zeros((n, len(channels)), dtype=bool)
    cons_channel = consent["channel"].to_numpy(dtype=object)
    cons_purpose = consent["purpose"].to_numpy(dtype=object)
    for j, c in enumerate(channels):
        hit = (where >= 0) & (cons_channel == c.name.strip().lower()) & (
            cons_purpose == c.consent_purpose.strip().lower())
        allowed[where[hit], j] = True
    _exclude("has consent", np.flatnonzero(~allowed.any(axis=1)), _consent_reason(channels))

    # 3. suppression lists
    lists = []
    for reason, members in suppressed.items():
        on = np.zeros(n, dtype=bool)
        p = _positions(ids, pd.Series(list(members), dtype=object).astype(str))
        on[p[p >= 0]] = True
        lists.append((reason, on))
    any_list = np.zeros(n, dtype=bool)
    for _, on in lists:
        any_list |= on
    drop = np.flatnonzero(alive & any_list)
    reasons = ["suppressed: " + ", ".join(r for r, on in lists if on[i]) for i in drop]
    _exclude("not suppressed", drop, reasons)

    # 4. frequency cap: sends in (as_of - days, as_of]
    days = int(frequency_cap.days)
    cap = int(frequency_cap.max_contacts)
    sent_at = _times(sends["sent_at"])
    in_window = ((sent_at > at - timedelta(days=days)) & (sent_at <= at)).to_numpy(copy=True)
    if "arm" in sends.columns:
        in_window &= (_norm(sends["arm"].fillna("")) != "control").to_numpy()
    p = _positions(ids, sends["customer_id"])
    counts = np.bincount(p[in_window & (p >= 0)], minlength=n)
    drop = np.flatnonzero(alive & (counts >= cap))
    reasons = [f"{k} contacts in the last {days} days (cap {cap})" for k in counts[drop]]
    _exclude("under frequency cap", drop, reasons)

    # 5. quiet period after a purchase: a non-cancelled order in (as_of - quiet, as_of]
    quiet = int(quiet_days_after_purchase)
    drop, reasons = np.array([], dtype=int), ""
    if quiet > 0 and alive.any():
        ordered_at = _times(orders["ordered_at"])
        recent = ((_norm(orders["status"]) != "cancelled") & (ordered_at > at - timedelta(days=quiet))
                  & (ordered_at <= at)).to_numpy(copy=True)
        p = _positions(ids, orders["customer_id"])
        recent &= p >= 0
        last = pd.Series(ordered_at.to_numpy()[recent]).groupby(p[recent]).max()
        last = last[alive[last.index.to_numpy()]]
        drop = last.index.to_numpy()
        ago = ((at - last) // pd.Timedelta(days=1)).astype(int)
        reasons = [f"bought {_days_ago(d)} (quiet period {quiet} days)" for d in ago]
    _exclude("not in quiet period", drop, reasons)

    rows, cols = np.nonzero(allowed & alive[:, None])  # customer-major, channels in spec order
    pairs = pd.DataFrame({"customer_id": ids.to_numpy()[rows],
                          "channel": np.array([c.name for c in channels], dtype=object)[cols]})
    out = (pd.concat(excluded, ignore_index=True) if excluded else
           pd.DataFrame({c: pd.Series(dtype=object) for c in ("customer_id", "reason_code", "reason")}))
    log.info("eligibility as of %s: %s", at, ", ".join(f"{s['step']} {s['customers']}" for s in funnel))
    return Eligibility(pairs=pairs, excluded=out, funnel=funnel)
