"""Full rebuild and incremental update of the profile, as pure functions of Ibis tables.

``build`` and ``update`` return a ``ProfileResult``: the state, the summary and the profile.
``update`` works on the customers with new rows only: their state rows are merged with the new
rows (``ProfileResult.merged``) and their summaries recomputed (``merged_summary``); the other
customers' state and summary rows are kept as they are. The date-dependent profile is then derived
for everyone. The property the tests hold it to: ``update(build(first part), rest) ==
build(everything)``.

A storage layer (``pipeline.py``) passes ``materialize``: called at each checkpoint with a name and
an expression, it writes the expression to a table and returns that table, so that no expression
is computed twice; the default keeps everything lazy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import ibis

from jingzhun.errors import ConfigError
from jingzhun.profile.derive import derive_profile
from jingzhun.profile.lifecycle import LifecycleConfig
from jingzhun.profile.state import STATE_KEYS, Watermark, delta_state, expire_events, merge_state
from jingzhun.profile.summary import summarise

#: Canonical tables the profile reads.
INPUT_TABLES = ("customers", "orders", "order_lines", "products", "events")

Materialize = Callable[[str, ibis.Table], ibis.Table]


def _lazy(name: str, expr: ibis.Table) -> ibis.Table:
    return expr


@dataclass
class ProfileResult:
    """The state (grain -> table), summary and profile; after an update also the customers with
    new rows (``changed``), their merged state rows and their new summaries."""

    state: dict[str, ibis.Table]
    summary: ibis.Table
    profile: ibis.Table
    changed: ibis.Table | None = None
    merged: dict[str, ibis.Table] | None = None
    merged_summary: ibis.Table | None = None


def _delta(tables: dict[str, ibis.Table], materialize: Materialize, **kw) -> dict[str, ibis.Table]:
    return delta_state(tables["orders"], tables["order_lines"], tables["products"], tables["events"],
                       materialize=materialize, **kw)


def build(tables: dict[str, ibis.Table], *, as_of: date, timezone: str = "UTC",
          lifecycle: LifecycleConfig | None = None, materialize: Materialize = _lazy) -> ProfileResult:
    """The profile as of ``as_of`` (local date in ``timezone``) from everything in the canonical
    ``tables`` (``INPUT_TABLES``)."""
    state = {g: materialize(f"state_{g}", t)
             for g, t in _delta(tables, materialize, as_of=as_of, timezone=timezone).items()}
    summary = materialize("summary", summarise(state))
    profile = derive_profile(state, summary, tables["customers"], as_of=as_of, timezone=timezone,
                             lifecycle=lifecycle)
    return ProfileResult(state, summary, profile)


def update(tables: dict[str, ibis.Table], state: dict[str, ibis.Table], summary: ibis.Table, *,
           since: Watermark, as_of: date, timezone: str = "UTC",
           lifecycle: LifecycleConfig | None = None, materialize: Materialize = _lazy) -> ProfileResult:
    """Apply the rows of ``tables`` not yet in ``state`` (per ``since``) up to ``as_of``.

    ``as_of`` may not be earlier than ``since.as_of`` (rows cannot be taken out of a state).
    """
    if as_of < since.as_of:
        raise ConfigError(f"cannot update the profile back to {as_of}: it is already as of "
                          f"{since.as_of}", hint="run a full build for an earlier date")
    delta = {g: materialize(f"delta_{g}", t)
             for g, t in _delta(tables, materialize, as_of=as_of, timezone=timezone,
                                since=since).items()}
    changed = materialize("changed", ibis.union(
        *(d.select("customer_id") for d in delta.values()), distinct=True))
    touched = {g: state[g].semi_join(changed, "customer_id") for g in STATE_KEYS}
    merged = {g: materialize(f"merged_{g}", t) for g, t in merge_state(touched, delta).items()}
    merged_summary = materialize("merged_summary", summarise(merged))
    new_state = {g: ibis.union(state[g].anti_join(changed, "customer_id"), merged[g])
                 for g in STATE_KEYS}
    new_state["day"] = expire_events(new_state["day"], as_of)
    new_summary = ibis.union(summary.anti_join(changed, "customer_id"), merged_summary)
    profile = derive_profile(new_state, new_summary, tables["customers"], as_of=as_of,
                             timezone=timezone, lifecycle=lifecycle)
    return ProfileResult(new_state, new_summary, profile, changed, merged, merged_summary)
