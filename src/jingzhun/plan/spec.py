"""The campaign spec (营销活动配置): one YAML file says what a campaign wants and what it may spend.

A minimal spec::

    campaign_id: retain_2025_spring
    name: 春季召回
    goal: retain                      # retain / grow / reactivate / acquire
    channels:
      - {name: sms, cost_per_contact: 0.05}
    budget: 20000                     # currency of the orders (CNY)
    margin_rate: 0.35                 # gross margin on revenue

Everything else has a default (``examples/retain_sms.yaml`` shows every key). ``load_spec``
reads a file, ``parse_spec`` a string; both validate with Pydantic and turn *every* problem
(unknown key, bad type, out-of-range number, duplicate channel/offer/content, duplicate YAML key,
an audience expression that does not parse, a missing suppression list) into one ``ConfigError``
whose message names the file, the key path (``channels[1].cost_per_contact``), the line of that
key in the YAML and the bad value. The error's ``problems`` attribute lists them all as
``(key_path, line, message)``.

Choices
-------
* ``audience`` is checked for syntax only (``profile.expr.check_expression`` without a column
  list): it may name tags and segments, which are columns only once eligibility joins them.
  Unknown columns are reported by eligibility, against the real table.
* Money (``cost_per_contact``, offer ``value``, ``min_order``, ``budget``) is in the currency of
  the orders; there is no currency conversion.
* ``suppression.lists``: relative paths resolve against ``base_dir`` (the spec file's folder for
  ``load_spec``); when ``base_dir`` is given, a list file that does not exist is an error.
* A percent offer's ``value`` is a share: ``0.10`` is 10 %; ``10`` is refused with a hint.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from jingzhun._yaml import yaml_line
from jingzhun.errors import ConfigError
from jingzhun.profile.expr import check_expression

__all__ = [
    "GOALS", "GOAL_VALUE", "CampaignSpec", "ChannelSpec", "ContentSpec", "ControlSpec",
    "FrequencyCap", "OfferSpec", "SuppressionSpec", "default_audience", "dump_spec", "load_spec",
    "parse_spec",
]

GOALS = ("retain", "grow", "reactivate", "acquire")

#: How each goal values a customer (text for the plan's report).
GOAL_VALUE = {
    "retain": "P(churn) x CLV x uplift: the customer value the campaign keeps from leaving",
    "grow": "uplift x expected order value x margin: extra spend of active customers "
            "(next-best category)",
    "reactivate": "P(alive) x uplift x expected order value x margin: dormant customers "
                  "who can still come back",
    "acquire": "lookalike score x uplift x expected first order value x margin: prospects "
               "resembling high-CLV customers",
}

# Nulls compare false (profile.expr), so each default says what a null means:
# retain -- CLV when the model has scored the customer, else net spend, against the median;
# reactivate -- no P(alive) (no CLV model run yet) does not exclude anyone.
_DEFAULT_AUDIENCE = {
    "retain": ("lifecycle_stage == 'at_risk' and (clv >= median(clv) or "
               "(clv is None and monetary_net >= median(monetary_net)))"),
    "grow": "lifecycle_stage in ('new', 'active', 'reactivated')",
    "reactivate": "lifecycle_stage in ('dormant', 'lost') and (p_alive >= 0.05 or p_alive is None)",
    "acquire": "orders == 0",
}

_HINT = "see jingzhun/plan/examples/retain_sms.yaml for every key of a campaign spec"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def default_audience(goal: str) -> str:
    """The audience expression a goal uses when the spec gives none.

    Parameters
    ----------
    goal : str
        One of ``GOALS``.

    Returns
    -------
    str
        An expression over ``customer_profile`` columns (``profile.expr`` language):

        * retain: at-risk customers (``lifecycle_stage == 'at_risk'``) whose CLV is at least the
          median CLV -- or, without a CLV score, whose net spend is at least the median;
        * grow: ``new``, ``active`` and ``reactivated`` customers;
        * reactivate: ``dormant`` and ``lost`` customers with ``p_alive >= 0.05`` or no
          ``p_alive`` yet;
        * acquire: prospects, ``orders == 0`` (registered, never purchased).
    """
    try:
        return _DEFAULT_AUDIENCE[goal]
    except KeyError:
        raise ConfigError(f"unknown goal {goal!r}", hint="goals: " + ", ".join(GOALS)) from None


class _Located(ValueError):
    """A validation problem at ``loc`` below the field being validated."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc


class _Spec(BaseModel):
    # ids written as numbers in YAML (campaign_id: 20250301, coupon_code: 618) are strings
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _unique(items: Sequence[BaseModel], attr: str, what: str) -> None:
    seen: dict[Any, int] = {}
    for i, item in enumerate(items):
        key = getattr(item, attr)
        if key in seen:
            raise _Located((i, attr), f"{what} {key!r} is used twice (first at [{seen[key]}])")
        seen[key] = i


class ChannelSpec(_Spec):
    """A way to reach customers and what one contact costs."""

    name: str = Field(min_length=1, description="e.g. 'sms', 'email', 'app_push', 'wechat'")
    cost_per_contact: float = Field(ge=0, allow_inf_nan=False,
                                    description="currency of the orders per contact")
    capacity: int | None = Field(None, ge=0, description="max contacts in this campaign; None: unlimited")
    consent_purpose: str = Field("marketing", min_length=1,
                                 description="consents.purpose that must be granted for this channel")
    uplift_factor: float = Field(1.0, ge=0, allow_inf_nan=False,
                                 description="effect relative to the channel the uplift model learned from")


class OfferSpec(_Spec):
    """An incentive and its cost model.

    ``value``: ``percent`` -- share of the order (0.10 = 10 %); ``fixed`` and ``points`` --
    currency per redeeming order; ``free_shipping`` -- shipping cost per redeeming order;
    ``none`` -- 0.
    """

    offer_id: str = Field(min_length=1)
    type: Literal["none", "percent", "fixed", "free_shipping", "points"] = "none"
    value: float = Field(0.0, ge=0, allow_inf_nan=False)
    min_order: float | None = Field(None, ge=0, allow_inf_nan=False,
                                    description="minimum order total for the offer to apply")
    redemption_rate: float = Field(1.0, ge=0, le=1,
                                   description="share of converting customers who use the offer")
    uplift_factor: float = Field(1.0, ge=0, allow_inf_nan=False,
                                 description="the offer's effect on uplift relative to no offer")
    coupon_code: str | None = None

    @model_validator(mode="after")
    def _check_value(self) -> OfferSpec:
        if self.type == "percent" and not 0 < self.value < 1:
            hint = f" (write {self.value / 100:g} for {self.value:g}%)" if 1 <= self.value < 100 else ""
            raise _Located(("value",), f"a percent offer's value is a share in (0, 1), e.g. 0.10 "
                                       f"for 10%, not {self.value:g}{hint}")
        if self.type == "none" and self.value != 0:
            raise _Located(("value",), f"an offer of type 'none' has no value, not {self.value:g}")
        if self.type in ("fixed", "points") and self.value <= 0:
            raise _Located(("value",), f"a {self.type} offer needs a value > 0 (currency per order)")
        return self


class ContentSpec(_Spec):
    """A content variant (message text lives elsewhere; this names it and whom it is for)."""

    content_id: str = Field(min_length=1)
    language: str | None = Field(None, min_length=1, description="e.g. 'zh', 'en'")
    segment: str | None = Field(None, min_length=1,
                                description="segment label this content is for; None: default")


class ControlSpec(_Spec):
    """The random hold-out group (hash of campaign_id, customer_id and salt)."""

    share: float = Field(0.1, gt=0, lt=1, description="share of eligible customers held out")
    min_size: int = Field(100, ge=0, description="fewest customers in the control group")
    stratify_by: str = Field("lifecycle_stage", description="a profile column")
    salt: str = "jingzhun"

    @field_validator("stratify_by")
    @classmethod
    def _column(cls, value: str) -> str:
        if not _IDENT.fullmatch(value):
            raise ValueError(f"stratify_by must be a column name, not {value!r}")
        return value


class FrequencyCap(_Spec):
    """At most ``max_contacts`` contacts (all campaigns, from ``sends``) in ``days`` days."""

    max_contacts: int = Field(3, ge=1)
    days: int = Field(30, ge=1)


class SuppressionSpec(_Spec):
    """Who is never contacted."""

    unsubscribed: bool = True
    complained: bool = True
    erased: bool = True
    lists: list[Path] = Field(default_factory=list,
                              description="files of customer ids, one per line")

    @field_validator("lists")
    @classmethod
    def _resolve(cls, paths: list[Path], info: ValidationInfo) -> list[Path]:
        base = (info.context or {}).get("base_dir")
        if base is None:
            return paths
        out = []
        for i, path in enumerate(paths):
            path = path.expanduser()
            path = path if path.is_absolute() else Path(base) / path
            if not path.is_file():
                raise _Located((i,), f"suppression list {str(path)!r} does not exist")
            out.append(path)
        return out


class CampaignSpec(_Spec):
    """A whole campaign: goal, audience, channels, offers, contents, money and rules."""

    campaign_id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    goal: Literal["retain", "grow", "reactivate", "acquire"]
    audience: str | None = Field(None, description="expression over profile columns and tags")
    channels: list[ChannelSpec] = Field(min_length=1)
    offers: list[OfferSpec] = Field(default_factory=lambda: [OfferSpec(offer_id="none")],
                                    min_length=1)
    contents: list[ContentSpec] = Field(default_factory=lambda: [ContentSpec(content_id="default")],
                                        min_length=1)
    budget: float = Field(gt=0, allow_inf_nan=False, description="currency of the orders")
    margin_rate: float = Field(gt=0, le=1, description="gross margin on revenue")
    horizon_days: int = Field(30, ge=1, description="response window the uplift refers to")
    control: ControlSpec = Field(default_factory=ControlSpec)
    frequency_cap: FrequencyCap = Field(default_factory=FrequencyCap)
    quiet_days_after_purchase: int = Field(0, ge=0)
    suppression: SuppressionSpec = Field(default_factory=SuppressionSpec)
    uplift_campaign: str | None = Field(None, min_length=1,
                                        description="past campaign whose uplift scores to use")
    acquire_conversion_rate: float = Field(
        0.02, gt=0, le=1, description="acquire: first-purchase rate assumed for a contacted prospect "
                                      "who looks exactly like a high-value customer (lookalike "
                                      "score 1); no past campaign measures prospects")

    @field_validator("audience")
    @classmethod
    def _check_audience(cls, text: str | None) -> str | None:
        if text is None:
            return None
        try:
            check_expression(text, None, name="audience", boolean=True)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("audience: ")) from None
        return text

    @field_validator("channels")
    @classmethod
    def _unique_channels(cls, channels: list[ChannelSpec]) -> list[ChannelSpec]:
        _unique(channels, "name", "channel")
        return channels

    @field_validator("offers")
    @classmethod
    def _unique_offers(cls, offers: list[OfferSpec]) -> list[OfferSpec]:
        _unique(offers, "offer_id", "offer")
        return offers

    @field_validator("contents")
    @classmethod
    def _unique_contents(cls, contents: list[ContentSpec]) -> list[ContentSpec]:
        _unique(contents, "content_id", "content")
        seen: dict[tuple, int] = {}
        for i, c in enumerate(contents):
            key = (c.language, c.segment)
            if key in seen:
                raise _Located((i, "content_id"), f"contents [{seen[key]}] and [{i}] are both for "
                                                  f"language {c.language!r} and segment {c.segment!r}")
            seen[key] = i
        return contents

    def audience_expression(self) -> str:
        """``audience``, or the goal's default (``default_audience``)."""
        return self.audience if self.audience is not None else default_audience(self.goal)


# ------------------------------------------------------------------------------------ reading


def load_spec(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign spec file.

    Parameters
    ----------
    path : str or Path
        A UTF-8 YAML file (a BOM is allowed). Relative suppression list paths resolve against
        its folder.

    Returns
    -------
    CampaignSpec

    Raises
    ------
    ConfigError
        Unreadable or non-UTF-8 file, bad YAML, or any validation problem; the message names
        the file, the key path, its line and the bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read campaign spec {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: a campaign spec must be UTF-8 text (byte {exc.start} is not)",
                          hint="save the file as UTF-8 (not GBK)") from None
    return parse_spec(text, origin=str(path), base_dir=path.resolve().parent)


def parse_spec(text: str, *, origin: str = "<spec>", base_dir: Path | None = None) -> CampaignSpec:
    """Validate a campaign spec from YAML ``text``.

    Parameters
    ----------
    text : str
        The YAML document.
    origin : str
        How errors name the source (the file path).
    base_dir : Path, optional
        Folder that relative ``suppression.lists`` paths resolve against (and whose files must
        exist); None leaves them as written and unchecked.

    Returns
    -------
    CampaignSpec

    Raises
    ------
    ConfigError
        See ``load_spec``.
    """
    text = text.removeprefix("\ufeff")
    try:
        docs = list(yaml.compose_all(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{origin}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc})",
                          hint=_HINT) from None
    docs = [d for d in docs if d is not None and d.tag != "tag:yaml.org,2002:null"]
    if not docs:
        raise ConfigError(f"{origin}: the campaign spec is empty",
                          hint="give at least campaign_id, name, goal, channels, budget and margin_rate; "
                               + _HINT)
    if len(docs) > 1:
        raise ConfigError(f"{origin}, line {docs[1].start_mark.line + 1}: a campaign spec holds one "
                          f"YAML document, found {len(docs)}", hint="remove the extra '---'")
    root = docs[0]
    _check_duplicate_keys(root, origin)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}, line {root.start_mark.line + 1}: a campaign spec is a YAML "
                          f"mapping of keys (campaign_id, name, goal, ...), not {type(data).__name__}",
                          hint=_HINT)
    context = {"base_dir": Path(base_dir) if base_dir is not None else None}
    try:
        return CampaignSpec.model_validate(data, context=context)
    except ValidationError as exc:
        raise _config_error(exc, origin, root) from None


def dump_spec(spec: CampaignSpec) -> str:
    """``spec`` as YAML text (UTF-8, Chinese kept) that ``parse_spec`` reads back to an equal spec."""
    return yaml.safe_dump(spec.model_dump(mode="json"), allow_unicode=True, sort_keys=False)


# ------------------------------------------------------------------------------------ errors


def _check_duplicate_keys(node: yaml.Node, origin: str, path: tuple = ()) -> None:
    """YAML keeps the last of two equal keys silently; a spec must not."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            line = key.start_mark.line + 1
            if key.value in seen:
                where = _key_path((*path, key.value))
                raise ConfigError(f"{origin}, line {line}: {where}: the key is given twice "
                                  f"(first on line {seen[key.value]})", hint="keep one of them")
            seen[key.value] = line
            _check_duplicate_keys(value, origin, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicate_keys(item, origin, (*path, i))


def _key_path(loc: Sequence) -> str:
    """``('channels', 1, 'cost_per_contact')`` -> ``channels[1].cost_per_contact``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _problem(err: dict, known: dict[tuple, list[str]]) -> tuple[tuple, str]:
    """(loc, message) of one Pydantic error, in words a marketer reads."""
    loc = tuple(err["loc"])
    kind = err["type"]
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, _Located):
        return (*loc, *cause.loc), str(cause)
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(str(loc[-1]), known.get(_keys_at(loc[:-1]), []), n=1)
        return loc, f"unknown key {str(loc[-1])!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return loc, "is missing"
    value = err.get("input")
    if kind in ("model_type", "model_attributes_type", "dict_type") and _keys_at(loc) in known:
        keys = ", ".join(known[_keys_at(loc)])
        return loc, f"should be a mapping of keys ({keys}), not {value!r}"
    msg = err["msg"].removeprefix("Value error, ").replace("Input should", "should")
    shown = f"a YAML {'mapping' if isinstance(value, dict) else 'list'}" \
        if isinstance(value, dict | list) else repr(value)
    return loc, f"{msg} (got {shown})"


def _known_keys() -> dict[tuple, list[str]]:
    """Valid keys at each place of the spec (for 'did you mean')."""
    return {(): list(CampaignSpec.model_fields),
            ("channels",): list(ChannelSpec.model_fields),
            ("offers",): list(OfferSpec.model_fields),
            ("contents",): list(ContentSpec.model_fields),
            ("control",): list(ControlSpec.model_fields),
            ("frequency_cap",): list(FrequencyCap.model_fields),
            ("suppression",): list(SuppressionSpec.model_fields)}


def _keys_at(loc: tuple) -> tuple:
    """``('channels', 2, 'x')`` -> ``('channels',)`` for the lookup in ``_known_keys``."""
    return tuple(p for p in loc if not isinstance(p, int))


def _config_error(exc: ValidationError, origin: str, root: yaml.Node) -> ConfigError:
    known = _known_keys()
    problems = []
    for err in exc.errors():
        loc, msg = _problem(err, known)
        problems.append((_key_path(loc), yaml_line(root, loc), msg))
    problems.sort(key=lambda p: p[1] or 0)  # file order; stable for problems on one line

    def line(p: tuple) -> str:
        return f"{origin}, line {p[1]}" if p[1] else origin

    first = problems[0]
    text = f"{line(first)}: {first[0]}: {first[2]}"
    if len(problems) > 1:
        text += "".join(f"\n  also line {p[1] or '?'}: {p[0]}: {p[2]}" for p in problems[1:])
    error = ConfigError(text, hint=_HINT)
    error.problems = problems
    return error
