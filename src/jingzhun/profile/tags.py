"""Customer tags (客户标签): declarative rules over the profile, membership and its history.

A rule file (YAML) names each tag and its condition in the expression language of
``profile.expr``::

    tags:
      high_value:
        description: Top 10% of customers by net spend
        description_zh: 消费金额前10%的客户
        expression: monetary_net >= p90(monetary_net) and orders > 0
      repeat_buyer: "orders >= 2"          # short form: just the expression

Tables (grain stated):

* membership, ``apply_tags``: one row per (customer_id, tag) that holds on the profile's date;
* history (``customer_tags``), ``update_tag_history``: one row per (customer_id, tag, spell of
  membership): ``tagged_since`` (date), ``untagged_at`` (date, null while the tag holds). A
  customer who leaves and re-enters a tag has two rows.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import importlib.resources
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from jingzhun._yaml import yaml_line
from jingzhun.errors import ConfigError, ContractError
from jingzhun.profile.expr import check_expression, compile_expression

DEFAULT_RULES = "default_tags.yaml"
HISTORY_COLUMNS = ("customer_id", "tag", "tagged_since", "untagged_at")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class TagRule:
    """One tag: its name (snake_case), what it means, and its condition.

    ``origin`` (``"<file>, line <n>"``) says where the rule was read; errors quote it.
    """

    name: str
    description: str
    expression: str
    description_zh: str | None = None
    origin: str | None = field(default=None, compare=False)

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(f"{self.origin + ': ' if self.origin else ''}tag name {self.name!r} "
                              "is not a snake_case identifier",
                              hint="use lower-case letters, digits and '_', starting with a letter")

    @property
    def label(self) -> str:
        """How errors name the rule: ``"<file>, line <n>: tag 'name'"``."""
        return (f"{self.origin}: " if self.origin else "") + f"tag {self.name!r}"


class _TagSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    description_zh: str | None = None
    expression: str


# ------------------------------------------------------------------------------------ rule files

def load_rules(path: str | Path | None = None) -> list[TagRule]:
    """Read and check a tag rule file (YAML, see the module docstring).

    Parameters
    ----------
    path : path, optional
        The file; None reads the packaged default rules (``default_tags.yaml``).

    Returns
    -------
    list of TagRule
        In file order. Expressions are checked for syntax and allowed constructs; columns are
        checked by ``validate_rules`` (they depend on the profile).

    Raises
    ------
    ConfigError
        Unreadable file, bad YAML, unknown keys, duplicate or badly named tags, bad expressions;
        the message names the file, the line and the tag.
    """
    if path is None:
        origin = f"jingzhun/profile/{DEFAULT_RULES}"
        text = importlib.resources.files("jingzhun.profile").joinpath(DEFAULT_RULES).read_text("utf-8")
    else:
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"cannot read tag rules {path}: {exc.strerror}") from exc
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: tag rules must be UTF-8 text") from None
    return parse_rules(text, origin=origin)


def parse_rules(text: str, *, origin: str = "<rules>") -> list[TagRule]:
    """Rules from YAML ``text``; ``origin`` names it in errors (see ``load_rules``)."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{origin}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict) or "tags" not in data:
        raise ConfigError(f"{origin}: a tag rule file is a YAML mapping with a `tags:` key",
                          hint="tags:\n  repeat_buyer: \"orders >= 2\"")
    extra = [k for k in data if k != "tags"]
    if extra:
        close = difflib.get_close_matches(str(extra[0]), ["tags"], n=1)
        raise ConfigError(f"{_at(origin, root, [extra[0]])}: unknown key {extra[0]!r}"
                          + (f" (did you mean {close[0]!r}?)" if close else ""))
    tags = data["tags"] or {}
    if not isinstance(tags, dict):
        raise ConfigError(f"{_at(origin, root, ['tags'])}: `tags:` must map tag names to rules")
    _check_duplicates(root, origin)
    rules = []
    for name, raw in tags.items():
        where = _at(origin, root, ["tags", name])
        rule = _rule(str(name), raw, where)
        check_expression(rule.expression, None, name=rule.label, boolean=True)
        rules.append(rule)
    return rules


def _rule(name: str, raw: object, where: str) -> TagRule:
    if isinstance(raw, str):
        raw = {"expression": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: tag {name!r}: give an expression (a string) or a mapping with "
                          "`description`, `description_zh` and `expression`")
    try:
        spec = _TagSpec.model_validate(raw)
    except ValidationError as exc:
        # an unknown key first: a misspelt `expression` also makes it "missing"
        err = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, list(_TagSpec.model_fields), n=1)
            msg = f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif err["type"] == "missing":
            msg = f"`{key}` is missing"
        else:
            msg = f"{key}: {msg}"
        raise ConfigError(f"{where}: tag {name!r}: {msg}",
                          hint="keys: " + ", ".join(_TagSpec.model_fields)) from None
    return TagRule(name=name, description=spec.description.strip(), expression=spec.expression,
                   description_zh=spec.description_zh.strip() if spec.description_zh else None,
                   origin=where)


def _at(origin: str, root: yaml.Node | None, path: list) -> str:
    """``"<file>, line <n>"`` for the key at ``path`` (``line ?`` when it cannot be found)."""
    return f"{origin}, line {yaml_line(root, path) or '?'}"


def _check_duplicates(root: yaml.Node, origin: str) -> None:
    """YAML keeps the last of two equal keys silently; a rule file must not."""
    node = root
    for key, value in node.value:
        if key.value == "tags":
            node = value
            break
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key, _ in node.value:
        line = key.start_mark.line + 1
        if key.value in seen:
            raise ConfigError(f"{origin}, line {line}: tag {key.value!r} is defined twice "
                              f"(first on line {seen[key.value]})")
        seen[key.value] = line


def validate_rules(rules: Iterable[TagRule],
                   columns: Collection[str] | Mapping[str, object] | ibis.Schema) -> None:
    """Check rules against the profile's columns, without a backend.

    Parameters
    ----------
    rules : iterable of TagRule
    columns : collection of str, or mapping of column -> Ibis type (or an ``ibis.Schema``)
        The profile's columns. With names only, syntax, functions and column names are checked;
        with types, each rule is also compiled (against an unbound table), which finds type errors
        (``top_category > 5``) and rules that are not conditions.

    Raises
    ------
    ConfigError
        For the first bad rule, naming it (and its file and line when it was read from one).
    """
    rules = list(rules)
    _check_names(rules)
    if isinstance(columns, ibis.Schema | Mapping):
        table = ibis.table(ibis.schema(dict(columns.items())), name="customer_profile")
        for rule in rules:
            compile_expression(rule.expression, table, name=rule.label, boolean=True)
    else:
        known = list(columns)
        for rule in rules:
            check_expression(rule.expression, known, name=rule.label, boolean=True)


def _check_names(rules: list[TagRule]) -> None:
    seen: dict[str, TagRule] = {}
    for rule in rules:
        if rule.name in seen:
            raise ConfigError(f"{rule.label}: a tag of this name is already defined"
                              + (f" ({seen[rule.name].origin})" if seen[rule.name].origin else ""))
        seen[rule.name] = rule


# ---------------------------------------------------------------------------------- membership

def apply_tags(profile: ibis.Table, rules: Iterable[TagRule]) -> ibis.Table:
    """Which customers hold which tags: one row per (customer_id, tag) that holds.

    Parameters
    ----------
    profile : ibis.Table
        ``customer_profile`` (one row per customer), or any table with ``customer_id`` and the
        columns the rules use. Whole-table functions in rules (``p90(...)``) are computed over
        all of its rows, so pass the whole population, not a sample.
    rules : iterable of TagRule

    Returns
    -------
    ibis.Table
        Columns ``customer_id`` (string), ``tag`` (string); a union of one filter per rule.
        No rows (same columns) when there are no rules.
    """
    rules = list(rules)
    _check_names(rules)
    if "customer_id" not in profile.columns:
        raise ContractError("the profile has no customer_id column; columns: " + ", ".join(profile.columns))
    parts = []
    for rule in rules:
        condition = compile_expression(rule.expression, profile, name=rule.label, boolean=True)
        parts.append(profile.filter(condition).select(
            customer_id=profile.customer_id.cast("string"), tag=ibis.literal(rule.name, type="string")))
    if not parts:
        return profile.filter(ibis.literal(False)).select(
            customer_id=profile.customer_id.cast("string"), tag=ibis.literal("", type="string"))
    return parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)


def update_tag_history(history: ibis.Table | None, membership: ibis.Table, *,
                       as_of: _dt.date) -> ibis.Table:
    """The tag history after the membership of ``as_of``.

    Parameters
    ----------
    history : ibis.Table or None
        Columns ``customer_id, tag, tagged_since, untagged_at`` (one row per spell of membership;
        ``untagged_at`` null while open); None before the first run.
    membership : ibis.Table
        ``apply_tags`` of the profile as of ``as_of`` (columns ``customer_id``, ``tag``).
    as_of : date
        The membership's date. Runs must come in date order (not checked: the function is lazy);
        re-running the same date with the same membership changes nothing.

    Returns
    -------
    ibis.Table
        The new history: closed rows as they were; open rows whose tag no longer holds closed
        with ``untagged_at = as_of``; open rows that still hold unchanged; a new open row
        (``tagged_since = as_of``) for each membership without an open row, so leaving and
        re-entering gives a second row.
    """
    if not isinstance(as_of, _dt.date) or isinstance(as_of, _dt.datetime):
        raise TypeError(f"as_of must be a datetime.date, got {as_of!r}")
    day = ibis.literal(as_of, type="date")
    no_day = ibis.null("date")
    members = membership.select(customer_id=membership.customer_id.cast("string"),
                                tag=membership.tag.cast("string")).distinct()
    if history is None:
        return members.select("customer_id", "tag", tagged_since=day, untagged_at=no_day)
    missing = [c for c in HISTORY_COLUMNS if c not in history.columns]
    if missing:
        raise ContractError(f"the tag history lacks column(s) {', '.join(missing)}; it needs "
                            + ", ".join(HISTORY_COLUMNS))
    h = history.select(customer_id=history.customer_id.cast("string"), tag=history.tag.cast("string"),
                       tagged_since=history.tagged_since.cast("date"),
                       untagged_at=history.untagged_at.cast("date"))
    closed = h.filter(h.untagged_at.notnull())
    open_ = h.filter(h.untagged_at.isnull())
    keys = ["customer_id", "tag"]
    still = open_.semi_join(members, keys)
    ended = open_.anti_join(members, keys).mutate(untagged_at=day)
    new = members.anti_join(open_, keys).select("customer_id", "tag", tagged_since=day,
                                                untagged_at=no_day)
    cols = list(HISTORY_COLUMNS)
    return ibis.union(closed.select(cols), still.select(cols), ended.select(cols), new.select(cols),
                      distinct=False)


def current_tags(history: ibis.Table) -> ibis.Table:
    """The tags that hold now: the open rows of ``history`` (``customer_id, tag, tagged_since``)."""
    return history.filter(history.untagged_at.isnull()).select("customer_id", "tag", "tagged_since")
