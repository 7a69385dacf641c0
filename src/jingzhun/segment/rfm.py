"""RFM scores and named RFM segments, written once in Ibis so they run on DuckDB and on Spark.

Grain: ``rfm_scores`` gives one row per purchasing customer; ``assign_segments`` one row per
customer of the profile (customers who never bought get the segment ``prospect``);
``segment_summary`` one row per (scheme, segment) that has customers.

Scores
------
Each of R, F and M is a quantile score in ``1..bins`` (5 by default), computed over the customers
with ``orders > 0`` only::

    score = 1 + floor(bins * (rank_min - 1) / n)

where ``n`` is the number of purchasing customers and ``rank_min`` is SQL ``rank()`` (1-based; a
tie group gets the rank of its first member) in ascending order of ``orders`` (F), of
``monetary_net`` (M) and of *descending* ``recency_days`` (R, so 5 = most recent). Hence:

- equal values always get equal scores, on every backend (never ``ntile``, which splits ties by
  row order);
- a tie group gets the band where it *starts*, so heavy ties sink to the lowest band their rank
  allows. For F this is what we want: in CDNOW about half the customers bought once; they all get
  F = 1 (a one-time buyer is as infrequent as a buyer can be) and the next band used is the one
  where the two-order customers start (F = 3 there), so F may skip bands rather than call a
  one-time buyer "average" (CDNOW as of 1998-06-30: F = 1, 3, 4, 5 for 51, 17, 15, 16 % of the
  23,570 customers; R and M, with few ties, fill their quintiles to within 2 %). Bands can be
  uneven or empty; with all values equal, or a single customer, every score is 1;
- a null value (a contract breach for purchasers) ranks lowest: it scores as the least recent,
  the lowest spend.

Segments
--------
A ``Scheme`` is an ordered list of ``Rule`` s; the first rule whose inclusive score ranges contain a
customer's (r, f, m) wins. Ranges may be given on ``r_score``, ``f_score``, ``m_score`` and
``fm_score = floor((f_score + m_score) / 2)`` (the R x FM grid of the common 11-segment map, rounded
down so that a "high FM" needs F and M both high on average). A scheme must map every cell of
``1..bins`` cubed and every rule must win at least one cell. Built-in schemes ``"11"`` and ``"5"``
live in ``rfm_schemes.yaml`` next to this module; a custom scheme is one YAML file of the same shape.
"""

from __future__ import annotations

import functools
import itertools
import operator
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import ibis
import ibis.expr.types as ir
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from jingzhun._yaml import yaml_line
from jingzhun.errors import ConfigError, ContractError

PROSPECT = "prospect"
PROSPECT_LABEL_EN = "Prospect (no purchase)"
PROSPECT_LABEL_ZH = "潜在客户(未购买)"
BUILTIN_SCHEMES = ("11", "5")
SCORE_COLUMNS = ("r_score", "f_score", "m_score", "fm_score")

_BUILTIN_FILE = "rfm_schemes.yaml"
_PROFILE_COLUMNS = {  # column -> (check, what it must be)
    "customer_id": ("is_string", "a string"),
    "orders": ("is_integer", "an integer"),
    "recency_days": ("is_integer", "an integer"),
    "monetary_net": ("is_numeric", "a number"),
}
_SEGMENT_COLUMNS = ("customer_id", "scheme", "segment", "label_en", "label_zh")


# --------------------------------------------------------------------------- schemes


def _as_range(value: Any) -> Any:
    """``5`` -> ``(5, 5)``; ``[lo, hi]`` -> ``(lo, hi)``; checks 1 <= lo <= hi."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ValueError(f"a score range is one whole number or [min, max], not {value!r}")
    lo, hi = value
    if not 1 <= lo <= hi:
        raise ValueError(f"a score range needs 1 <= min <= max, not [{lo}, {hi}]")
    return (lo, hi)


ScoreRange = Annotated[tuple[int, int] | None, BeforeValidator(_as_range)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(_Strict):
    """One named segment: inclusive score ranges; a score left out (None) matches anything."""

    segment: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="key, lower_snake_case")
    label_en: str = Field(min_length=1)
    label_zh: str = Field(min_length=1)
    r_score: ScoreRange = None
    f_score: ScoreRange = None
    m_score: ScoreRange = None
    fm_score: ScoreRange = None

    def matches(self, r: int, f: int, m: int) -> bool:
        """Whether scores (r, f, m) fall in every range of this rule."""
        values = {"r_score": r, "f_score": f, "m_score": m, "fm_score": (f + m) // 2}
        return all(rng is None or rng[0] <= values[col] <= rng[1]
                   for col, rng in self._ranges())

    def _ranges(self) -> Iterator[tuple[str, tuple[int, int] | None]]:
        return ((col, getattr(self, col)) for col in SCORE_COLUMNS)


class Scheme(_Strict):
    """An ordered list of rules (first match wins) over scores in ``1..bins``."""

    name: str = Field(min_length=1, description="value of the `scheme` column")
    bins: int = Field(5, ge=2, le=9, description="scores run 1..bins")
    description: str = ""
    rules: list[Rule] = Field(min_length=1)

    @property
    def segments(self) -> tuple[str, ...]:
        """Segment keys in rule order (without ``prospect``)."""
        return tuple(rule.segment for rule in self.rules)

    def segment_of(self, r: int, f: int, m: int) -> str | None:
        """Key of the first rule matching scores (r, f, m), or None."""
        return next((rule.segment for rule in self.rules if rule.matches(r, f, m)), None)


def _cells(bins: int) -> Iterator[tuple[int, int, int]]:
    return itertools.product(range(1, bins + 1), repeat=3)


def _scheme_problem(scheme: Scheme) -> tuple[tuple, str] | None:
    """(location, message) of the first way ``scheme`` is not a total, sensible partition, or None."""
    seen: set[str] = set()
    for i, rule in enumerate(scheme.rules):
        if rule.segment == PROSPECT or rule.segment in seen:
            why = "is reserved for customers with no purchase" if rule.segment == PROSPECT else \
                "is used by an earlier rule"
            return ("rules", i, "segment"), f"segment {rule.segment!r} {why}"
        seen.add(rule.segment)
        for col, rng in rule._ranges():
            if rng is not None and rng[1] > scheme.bins:
                return ("rules", i, col), f"range [{rng[0]}, {rng[1]}] goes beyond bins = {scheme.bins}"
    winners = {cell: scheme.segment_of(*cell) for cell in _cells(scheme.bins)}
    unmapped = [cell for cell, seg in winners.items() if seg is None]
    if unmapped:
        return ("rules",), (f"(r, f, m) = {unmapped[0]} matches no rule ({len(unmapped)} of "
                            f"{scheme.bins ** 3} cells unmapped); add a rule for it, or end with a catch-all "
                            "rule that has no score ranges")
    won = set(winners.values())
    for i, rule in enumerate(scheme.rules):
        if rule.segment not in won:
            return ("rules", i), (f"rule {rule.segment!r} never matches: every cell it covers is "
                                  "taken by an earlier rule")
    return None


def parse_scheme(data: Any, *, origin: str = "<scheme>", text: str | None = None,
                 default_name: str | None = None) -> Scheme:
    """Validate a scheme from parsed YAML ``data``; ``ConfigError`` names ``origin``, key and line.

    Parameters
    ----------
    data : dict
        ``{name, bins, description, rules: [...]}`` (see the module docstring).
    origin : str
        Where ``data`` came from (file path), for error messages.
    text : str, optional
        The YAML text, to give the line of a bad key.
    default_name : str, optional
        ``name`` when ``data`` has none (a custom file's stem).
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a scheme must be a YAML object with `rules:`",
                          hint="see jingzhun/segment/rfm_schemes.yaml for the shape")
    if "name" not in data and default_name is not None:
        data = {**data, "name": default_name}
    try:
        scheme = Scheme.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown key {err['loc'][-1]!r}"
        raise _located(origin, text, err["loc"], msg) from None
    problem = _scheme_problem(scheme)
    if problem:
        raise _located(origin, text, *problem)
    return scheme


def load_scheme(path_or_name: str | Path | Scheme) -> Scheme:
    """A segment scheme: built-in ``"11"`` or ``"5"``, or a YAML file of the same shape.

    Parameters
    ----------
    path_or_name : str, Path or Scheme
        ``"11"`` (the common 11-segment map), ``"5"`` (the five groups of Chinese CRM practice),
        a path to a YAML scheme file (``name`` defaults to the file's stem), or a ``Scheme``
        (returned as is). The built-in names win over files of the same name.

    Returns
    -------
    Scheme
        Validated: total over ``1..bins`` cubed, unique keys, no rule shadowed.

    Raises
    ------
    ConfigError
        Unknown name, unreadable or invalid file; the message names the file, key and line.
    """
    if isinstance(path_or_name, Scheme):
        return path_or_name
    if str(path_or_name) in BUILTIN_SCHEMES:
        return _builtin_schemes()[str(path_or_name)]
    path = Path(path_or_name)
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        raise ConfigError(f"unknown scheme {str(path_or_name)!r}",
                          hint=f"built-in schemes: {', '.join(BUILTIN_SCHEMES)}; or a path to a .yaml file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read scheme {path}: {exc.strerror}") from exc
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if len(docs) != 1:
        raise ConfigError(f"{path}: a scheme file holds exactly one YAML document, found {len(docs)}")
    return parse_scheme(docs[0], origin=str(path), text=text, default_name=path.stem)


@functools.cache
def _builtin_schemes() -> dict[str, Scheme]:
    text = resources.files("jingzhun.segment").joinpath(_BUILTIN_FILE).read_text(encoding="utf-8")
    schemes = [parse_scheme(doc, origin=_BUILTIN_FILE) for doc in yaml.safe_load_all(text) if doc]
    return {s.name: s for s in schemes}


def _located(origin: str, text: str | None, loc: Sequence, msg: str) -> ConfigError:
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = yaml_line(text, loc) if text else None
    where = f"{origin}, line {line}" if line else origin
    return ConfigError(f"{where}: {key}: {msg}", hint="see jingzhun/segment/rfm_schemes.yaml for the shape")


# --------------------------------------------------------------------------- scores


def _check_columns(table: ir.Table, wanted: dict[str, tuple[str, str]], what: str) -> None:
    schema = table.schema()
    for col, (check, kind) in wanted.items():
        if col not in schema:
            raise ContractError(f"{what} has no column {col!r}; columns: {', '.join(schema.names)}")
        if not getattr(schema[col], check)():
            raise ContractError(f"{what}.{col} must be {kind}, not {schema[col]}")


def _check_bins(bins: int) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int) or not 2 <= bins <= 9:
        raise ConfigError(f"bins must be a whole number from 2 to 9, not {bins!r}")


def _scored(profile: ir.Table, bins: int) -> ir.Table:
    """``profile`` plus ``_is_purchaser`` and r/f/m scores (null for customers with no purchase)."""
    t = profile.mutate(_is_purchaser=profile.orders.fill_null(0) > 0)
    n = t._is_purchaser.count().over(group_by=t._is_purchaser)

    def score(key: ir.Value) -> ir.IntegerValue:
        rank0 = ibis.rank().over(group_by=t._is_purchaser, order_by=key)  # Ibis' rank() is 0-based
        score = ((bins * rank0) // n + 1).cast("int64")
        return ibis.ifelse(t._is_purchaser, score, ibis.null("int64"))

    return t.mutate(
        r_score=score(ibis.desc(t.recency_days, nulls_first=True)),
        f_score=score(ibis.asc(t.orders, nulls_first=True)),
        m_score=score(ibis.asc(t.monetary_net, nulls_first=True)),
    )


def _cell(t: ir.Table) -> ir.StringValue:
    return t.r_score.cast("string") + t.f_score.cast("string") + t.m_score.cast("string")


def rfm_scores(profile: ir.Table, *, bins: int = 5) -> ir.Table:
    """Quantile R, F and M scores of the customers who bought (``orders > 0``).

    Parameters
    ----------
    profile : ibis.Table
        One row per customer with ``customer_id`` (string), ``orders`` (integer, purchase orders),
        ``recency_days`` (integer, days since the last purchase as of the profile date) and
        ``monetary_net`` (number, net spend in the profile's currency).
    bins : int, default 5
        Number of score bands, 2..9; scores run ``1..bins``.

    Returns
    -------
    ibis.Table
        One row per customer with ``orders > 0``: ``customer_id, recency_days, orders,
        monetary_net, r_score, f_score, m_score`` (int64 in ``1..bins``; R = bins is the most
        recent) and ``rfm_cell`` (string, e.g. ``"545"``). Ties get equal scores, in the band where
        their group starts (module docstring).
    """
    _check_bins(bins)
    _check_columns(profile, _PROFILE_COLUMNS, "customer_profile")
    t = _scored(profile, bins)
    t = t.filter(t._is_purchaser)
    return t.select("customer_id", "recency_days", "orders", "monetary_net",
                    "r_score", "f_score", "m_score", rfm_cell=_cell(t))


# --------------------------------------------------------------------------- segments


def _condition(rule: Rule, t: ir.Table) -> ir.BooleanValue:
    values = {"r_score": t.r_score, "f_score": t.f_score, "m_score": t.m_score,
              "fm_score": (t.f_score + t.m_score) // 2}
    conds = [values[col].between(rng[0], rng[1]) for col, rng in rule._ranges() if rng is not None]
    return functools.reduce(operator.and_, conds) if conds else ibis.literal(True)


def _segment_of_scores(t: ir.Table, scheme: Scheme) -> ir.StringValue:
    """The first rule of ``scheme`` matching ``t``'s r/f/m scores, as SQL (mirrors ``Scheme.segment_of``)."""
    return ibis.cases(*[(_condition(rule, t), rule.segment) for rule in scheme.rules],
                      else_=ibis.null("string"))


def assign_segments(profile: ir.Table, scheme: Scheme | str | Path) -> ir.Table:
    """The named segment of every customer under ``scheme``.

    Parameters
    ----------
    profile : ibis.Table
        One row per customer, with the columns ``rfm_scores`` needs.
    scheme : Scheme, str or Path
        A ``Scheme``, or what ``load_scheme`` takes (``"11"``, ``"5"``, a YAML path).

    Returns
    -------
    ibis.Table
        One row per customer of ``profile``: ``customer_id, scheme`` (the scheme's name),
        ``segment, label_en, label_zh``, ``r_score, f_score, m_score`` (int64, scores in
        ``1..scheme.bins``) and ``rfm_cell`` (string). Customers with no purchase (``orders``
        0 or null) get segment ``prospect`` and null scores.
    """
    scheme = load_scheme(scheme)
    _check_columns(profile, _PROFILE_COLUMNS, "customer_profile")
    t = _scored(profile, scheme.bins)
    segment = ibis.ifelse(t._is_purchaser, _segment_of_scores(t, scheme), PROSPECT)
    labels_en = {PROSPECT: PROSPECT_LABEL_EN, **{r.segment: r.label_en for r in scheme.rules}}
    labels_zh = {PROSPECT: PROSPECT_LABEL_ZH, **{r.segment: r.label_zh for r in scheme.rules}}
    t = t.mutate(segment=segment)
    return t.select(
        "customer_id",
        scheme=ibis.literal(scheme.name, "string"),
        segment=t.segment,
        label_en=t.segment.substitute(labels_en, else_=ibis.null("string")),
        label_zh=t.segment.substitute(labels_zh, else_=ibis.null("string")),
        r_score=t.r_score,
        f_score=t.f_score,
        m_score=t.m_score,
        rfm_cell=_cell(t),
    )


def _rule_order(t: ir.Table, schemes: Sequence[Scheme]) -> ir.IntegerValue:
    """Position of each row's segment in its scheme's rule order (prospect last; unknown after)."""
    branches = [((t.scheme == s.name) & (t.segment == key), i)
                for s in schemes for i, key in enumerate((*s.segments, PROSPECT))]
    return ibis.cases(*branches, else_=1000)


def segment_summary(segments: ir.Table, profile: ir.Table, *,
                    scheme: Scheme | str | Path | None = None) -> ir.Table:
    """Size, revenue and mean CLV of each segment.

    Parameters
    ----------
    segments : ibis.Table
        Output of ``assign_segments`` (one scheme, or several stacked).
    profile : ibis.Table
        One row per customer: ``customer_id``, ``monetary_net`` (net spend) and, when present,
        ``clv`` (customer lifetime value, same currency).
    scheme : Scheme, str or Path, optional
        Only for the row order of a custom scheme; the built-in schemes are known by name.

    Returns
    -------
    ibis.Table
        One row per (scheme, segment) with customers: ``scheme, segment, label_en, label_zh``,
        ``customers`` (int64), ``share`` (of the scheme's customers, 0..1), ``revenue`` (float64,
        sum of ``monetary_net``), ``revenue_share`` (of the scheme's revenue; null when that is 0)
        and ``avg_clv`` (float64 mean of ``clv``; null when the profile has no ``clv`` column).
        Ordered by scheme, then the scheme's rule order, ``prospect`` last. Shares sum to 1 per
        scheme.
    """
    _check_columns(segments, {c: ("is_string", "a string") for c in _SEGMENT_COLUMNS}, "segments")
    wanted = {col: _PROFILE_COLUMNS[col] for col in ("customer_id", "monetary_net")}
    has_clv = "clv" in profile.columns
    if has_clv:
        wanted["clv"] = ("is_numeric", "a number")
    _check_columns(profile, wanted, "customer_profile")
    known = [load_scheme(name) for name in BUILTIN_SCHEMES]
    order_schemes = [load_scheme(scheme), *known] if scheme is not None else known

    money = profile.select(*wanted)
    j = segments.left_join(money, segments.customer_id == money.customer_id)
    metrics = {"customers": j.count(), "revenue": j.monetary_net.sum().cast("float64")}
    if has_clv:
        metrics["avg_clv"] = j.clv.mean().cast("float64")
    g = j.group_by("scheme", "segment", "label_en", "label_zh").aggregate(**metrics)
    g = g.mutate(
        revenue=g.revenue.fill_null(0.0),
        avg_clv=g.avg_clv if has_clv else ibis.null("float64"),
    )
    whole = ibis.window(group_by=g.scheme)
    g = g.mutate(
        share=g.customers / g.customers.sum().over(whole),
        revenue_share=g.revenue / g.revenue.sum().over(whole).nullif(0.0),
    )
    g = g.select("scheme", "segment", "label_en", "label_zh", "customers", "share", "revenue",
                 "revenue_share", "avg_clv")
    return g.order_by(g.scheme, _rule_order(g, order_schemes), g.segment)
