"""The report's language and number formatting, in one place, so every figure and reading of a
report writes numbers the same way.

* :func:`labels_for` -- a figure module's label table for ``lang`` ("en", "zh"), or ``InputError``.
* :func:`format_count` (``12,345``), :func:`format_percent` (``99.1%``), :func:`format_money`
  (``1,235 CNY``, ``12.50 USD``, ``1,235 元`` in Chinese) and :func:`format_amount` (money without
  its unit). Negative numbers get a true minus sign (``−12.50 USD``, via :func:`signed`); a
  missing or non-finite value is written ``–`` (or the caller's own ``missing`` wording).
* :func:`currency_unit` (the currency's name in the text: ``元`` for CNY in Chinese, else the
  code) and :func:`time_unit` (a model's time unit, "W" or "D", in words).
* :func:`finite_or_none` -- a finite float out of a JSON-ready value, else None.
* :func:`no_data_figure` and :func:`require_frame` -- the empty figure and the input check that
  every figure module shares.

Money has ONE style in the whole report: amount, then unit; two decimals below 100 in absolute
value, whole units from 100 up (``digits`` overrides it, e.g. for per-recipient amounts).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go

from jingzhun.errors import InputError

__all__ = ["MISSING", "currency_unit", "finite_or_none", "format_amount", "format_count", "format_money",
           "format_percent", "labels_for", "no_data_figure", "require_frame", "signed", "time_unit"]

#: How a missing or non-finite number is written (an en dash).
MISSING = "–"
_MINUS = "\u2212"
#: Below this absolute amount money is written with cents.
_CENTS_BELOW = 100.0
#: Time units of the models' inputs, by ``rfm_summary``'s unit code.
_TIME_UNITS = {"en": {"W": "weeks", "D": "days"}, "zh": {"W": "周", "D": "天"}}


def labels_for(table: Mapping[str, Mapping], lang: str) -> Mapping:
    """``table[lang]``: a module's labels in the report's language.

    Raises
    ------
    InputError
        When ``lang`` is not a key of ``table``; the message names the bad value and the known ones.
    """
    if not isinstance(lang, str) or lang not in table:
        raise InputError(f"lang must be one of {sorted(table)}, got {lang!r}")
    return table[lang]


# --------------------------------------------------------------------------- numbers


def finite_or_none(v) -> float | None:
    """A finite float, or None for None, NaN, infinities, booleans and non-numbers (strings...)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    return float(v) if math.isfinite(v) else None


def signed(s: str) -> str:
    """``s`` with each hyphen-minus replaced by a true minus sign ``−`` (U+2212)."""
    return s.replace("-", _MINUS)


def format_count(value, *, missing: str = MISSING) -> str:
    """A count with thousands separators, rounded to a whole number: ``12345 -> "12,345"``,
    ``-3 -> "−3"``; ``missing`` for None, NaN, infinities and non-numbers."""
    x = _float(value)
    return missing if x is None else _number(x, ",.0f")


def format_percent(share, *, missing: str = MISSING) -> str:
    """A share (1 = 100%) as a percentage with one decimal: ``0.9912 -> "99.1%"``,
    ``19 -> "1,900.0%"``, ``-0.05 -> "−5.0%"``; ``missing`` when not a finite number."""
    x = _float(share)
    return missing if x is None else _number(100.0 * x, ",.1f") + "%"


def format_amount(amount, *, digits: int | None = None, missing: str = MISSING) -> str:
    """Money without its unit: ``digits`` decimals, by default two below 100 in absolute value
    (``"12.50"``) and whole units from 100 up (``"1,235"``); ``missing`` when not a finite number."""
    x = _float(amount)
    if x is None:
        return missing
    if digits is None:
        digits = 2 if abs(x) < _CENTS_BELOW else 0
    return _number(x, f",.{digits}f")


def currency_unit(currency: str, lang: str = "en") -> str:
    """How the currency is named after an amount: ``"元"`` for CNY in Chinese, else its code."""
    return "元" if currency == "CNY" and lang == "zh" else str(currency)


def format_money(amount, currency: str, *, lang: str = "en", digits: int | None = None,
                 missing: str = MISSING) -> str:
    """An amount then its unit: ``"1,235 CNY"``, ``"12.50 USD"``, ``"−3.00 CNY"``, and in Chinese
    ``"1,235 元"`` for CNY (other currencies keep their code).

    Parameters
    ----------
    amount : float or None
        The amount in ``currency``.
    currency : str
        ISO code (``"CNY"``, ``"USD"``) or any word naming the unit.
    lang : {"en", "zh"}, default "en"
    digits : int, optional
        Decimals; by default two below 100 in absolute value, none from 100 up.
    missing : str, default "–"
        What a missing or non-finite amount is written as (without a unit).
    """
    text = format_amount(amount, digits=digits, missing=missing)
    return text if _float(amount) is None else f"{text} {currency_unit(currency, lang)}"


def time_unit(unit: str, lang: str) -> str:
    """A model's time unit code (``"W"``, ``"D"``) in words: "weeks"/"days", "周"/"天"."""
    units = labels_for(_TIME_UNITS, lang)
    if unit not in units:
        raise InputError(f"unit must be one of {sorted(units)}, got {unit!r}")
    return units[unit]


def _float(v) -> float | None:
    """``v`` as a finite float (numbers, numpy scalars, Decimals, numeric strings), else None."""
    if v is None or isinstance(v, bool):
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _number(x: float, spec: str) -> str:
    """``x`` formatted with ``spec``, a true minus sign, and no sign on a value that rounds to 0."""
    s = format(x, spec)
    if s.startswith("-") and not any(c in "123456789" for c in s):
        s = s[1:]
    return signed(s)


# --------------------------------------------------------------------------- figures and inputs


def no_data_figure(title: str, message: str) -> go.Figure:
    """A figure with the title, no trace, hidden axes and ``message`` (grey) in the middle."""
    fig = go.Figure()
    fig.add_annotation(text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                       font={"size": 16, "color": "grey"})
    fig.update_layout(title={"text": title})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def require_frame(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    """``frame`` itself when it is a DataFrame with ``columns`` (it may be empty); else InputError."""
    if not isinstance(frame, pd.DataFrame):
        raise InputError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{name} lacks column(s) {missing}; it has {list(frame.columns)}",
                         hint=f"{name} needs the columns {list(columns)}")
    return frame
