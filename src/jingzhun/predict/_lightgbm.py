"""Feature names LightGBM accepts, for every estimator that hands it a DataFrame.

LightGBM (4.x) refuses a feature name with a JSON-special character (``[]{}",:``) -- and such
names are ordinary here: a one-hot level ``city=北京:朝阳``, an attribute ``history[$]``. The
estimators (uplift learners, ``ChurnModel``, ``LookalikeModel``) rename their input's columns
with :func:`lightgbm_safe` on the way in, at fit and at predict alike, so any caller may use any
names; what they report (importances, feature lists) keeps the caller's names.
"""

from __future__ import annotations

import re

import pandas as pd

_JSON_SPECIAL = re.compile(r'[\[\]{}",:]')


def lightgbm_names(columns) -> list[str]:
    """``columns`` with each JSON-special character replaced by ``_``; names that become equal
    get ``__2``, ``__3``... in order, so the mapping is one-to-one and the same on every call."""
    out, seen = [], set()
    for name in map(str, columns):
        safe = _JSON_SPECIAL.sub("_", name)
        candidate, k = safe, 1
        while candidate in seen:
            k += 1
            candidate = f"{safe}__{k}"
        seen.add(candidate)
        out.append(candidate)
    return out


def lightgbm_safe(X):
    """``X`` itself when it is not a DataFrame or its names are already safe; else a renamed
    view (the data are not copied)."""
    if not isinstance(X, pd.DataFrame):
        return X
    names = lightgbm_names(X.columns)
    return X if names == [str(c) for c in X.columns] else X.set_axis(names, axis=1)
