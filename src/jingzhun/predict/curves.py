"""Curves kept for drawing: a model check's curve (ROC, Qini) can have a point per customer; a
report needs a few hundred. Shared by ``predict.churn`` (ROC curves in the backtest) and
``report.uplift_figures`` (Qini curves).
"""

from __future__ import annotations

import numpy as np


def thin_curve(x, y, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` evenly spaced points of the curve ``(x, y)`` (same length), the
    first and last kept; the curve itself when it is short enough."""
    x, y = np.asarray(x), np.asarray(y)
    if x.size <= max_points:
        return x, y
    keep = np.unique(np.round(np.linspace(0, x.size - 1, max_points)).astype(np.int64))
    return x[keep], y[keep]
