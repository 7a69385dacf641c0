"""Lifecycle stage of a customer as of a date: prospect, new, active, at risk, dormant, lost or
reactivated.

A customer's thresholds scale with their own rhythm: the *expected gap* is their median number of
days between purchase days, or -- for one-time buyers -- the population's median of that median;
it is clamped to ``[min_gap_days, max_gap_days]`` so that two purchases a day apart do not make a
customer "lost" after a week. With ``g`` the expected gap and ``r`` the recency in days:

=============  ===========================================================================
stage          rule (first that holds)
=============  ===========================================================================
prospect       no purchase yet
new            one purchase day and ``r <= active_multiple * g``
reactivated    ``r <= active_multiple * g`` and the gap before the last purchase day was longer
               than ``at_risk_multiple * g0`` -- they had slipped away and came back -- where
               ``g0`` is the expected gap from the gaps *before* that one (the population's
               median gap when there are none)
active         ``r <= active_multiple * g``
at_risk        ``r <= at_risk_multiple * g``
dormant        ``r <= lost_multiple * g``
lost           otherwise
=============  ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis

STAGES = ("prospect", "new", "reactivated", "active", "at_risk", "dormant", "lost")

#: Bilingual labels of the stages, for cards and reports.
STAGE_LABELS = {
    "prospect": ("Prospect", "潜在客户"),
    "new": ("New", "新客"),
    "reactivated": ("Reactivated", "回流客户"),
    "active": ("Active", "活跃客户"),
    "at_risk": ("At risk", "流失预警"),
    "dormant": ("Dormant", "沉睡客户"),
    "lost": ("Lost", "流失客户"),
}


@dataclass(frozen=True)
class LifecycleConfig:
    """Thresholds, as multiples of a customer's expected gap between purchases (days)."""

    active_multiple: float = 1.5
    at_risk_multiple: float = 3.0
    lost_multiple: float = 6.0
    min_gap_days: float = 7.0
    max_gap_days: float = 365.0

    def __post_init__(self) -> None:
        from jingzhun.errors import ConfigError

        if not 0 < self.active_multiple <= self.at_risk_multiple <= self.lost_multiple:
            raise ConfigError(
                "lifecycle multiples must satisfy 0 < active <= at_risk <= lost, got "
                f"{self.active_multiple}, {self.at_risk_multiple}, {self.lost_multiple}")
        if not 0 < self.min_gap_days <= self.max_gap_days:
            raise ConfigError(f"need 0 < min_gap_days <= max_gap_days, got {self.min_gap_days}, "
                              f"{self.max_gap_days}")


def expected_gap_days(ipt_median_days: ibis.Value, population_median_days: ibis.Value,
                      cfg: LifecycleConfig) -> ibis.Value:
    """The customer's expected days between purchase days, clamped to the configured bounds."""
    gap = ipt_median_days.fill_null(population_median_days).fill_null(cfg.max_gap_days)
    return gap.clip(lower=cfg.min_gap_days, upper=cfg.max_gap_days)


def lifecycle_stage(*, orders: ibis.Value, purchase_days: ibis.Value, recency_days: ibis.Value,
                    last_gap_days: ibis.Value, gap_days: ibis.Value, prior_gap_days: ibis.Value,
                    cfg: LifecycleConfig) -> ibis.Value:
    """The stage (one of ``STAGES``) from recency and gaps in days; see the module docstring.
    ``gap_days`` and ``prior_gap_days`` are expected gaps (``expected_gap_days``) from all gaps
    and from the gaps before the last one."""
    recent = recency_days <= cfg.active_multiple * gap_days
    came_back = last_gap_days.fill_null(0) > cfg.at_risk_multiple * prior_gap_days
    return (
        ibis.cases(
            (orders.fill_null(0) == 0, "prospect"),
            (recent & (purchase_days == 1), "new"),
            (recent & came_back, "reactivated"),
            (recent, "active"),
            (recency_days <= cfg.at_risk_multiple * gap_days, "at_risk"),
            (recency_days <= cfg.lost_multiple * gap_days, "dormant"),
            else_="lost",
        )
    )
