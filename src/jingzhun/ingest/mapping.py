"""Source mappings: how a file's columns become a canonical table (YAML, Pydantic-validated).

Example (``mappings/customers.yaml``)::

    table: customers
    file: {encoding: auto, delimiter: auto, header: true}   # optional; sniffed by default
    timezone: Asia/Shanghai          # zone of naive timestamps in the file (default UTC)
    columns:
      customer_id: 客户编号            # canonical name: source column
      gender: {from: 性别, values: {男: male, 女: female}}
      signup_at: {from: 注册日期, formats: ["%Y/%m/%d", "%Y年%m月%d日"]}
      country: {const: CN}
      order_id: {concat: [客户编号, 日期], sequence: true}   # derived key: "<id>-<date>-<n>"
      line_no: {number_within: [订单号]}   # 1, 2, ... in file order within each order
      city: {from: 城市, missing: flag}  # quarantine | fill (with `fill:`) | flag
    dedupe: {keep: first}            # or {keep: latest, order_by: <source column>}

With no mapping, canonical names are expected in the header, matched case- and
whitespace-insensitively. A mapping with an unknown key or a bad value is rejected with the key
and its line in the file.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jingzhun import contract
from jingzhun._yaml import yaml_line
from jingzhun.errors import ConfigError

MissingPolicy = Literal["quarantine", "fill", "flag"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FileOptions(_Strict):
    """How to read the file; ``auto`` sniffs."""

    encoding: str = "auto"
    delimiter: str = "auto"
    header: bool = True
    sheets: list[str] = Field(default_factory=list, description="xlsx sheets; ['*'] for all")


class ColumnSpec(_Strict):
    """Where a canonical column comes from and how to treat it."""

    source: str | None = Field(None, alias="from")
    const: Any = None
    concat: list[str] | None = None
    sequence: bool = False
    number_within: list[str] | None = None
    separator: str = "-"
    formats: list[str] = Field(default_factory=list)
    values: dict[str, str] = Field(default_factory=dict)
    missing: MissingPolicy | None = None
    fill: Any = None

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnSpec:
        origins = [self.source is not None, self.const is not None, self.concat is not None,
                   self.number_within is not None]
        if sum(origins) != 1:
            raise ValueError("give exactly one of `from`, `const`, `concat` or `number_within`")
        if self.missing == "fill" and self.fill is None:
            raise ValueError("`missing: fill` needs a `fill:` value")
        if self.sequence and self.concat is None:
            raise ValueError("`sequence: true` only goes with `concat`")
        return self


class DedupeRule(_Strict):
    """What to do with several rows of one key: keep the first, or the latest by a column."""

    keep: Literal["first", "latest"] = "first"
    order_by: str | None = None
    #: ``keep`` when identical lines are separate real records (CDNOW: two equal purchases a day)
    exact_duplicates: Literal["drop", "keep"] = "drop"


class Mapping(_Strict):
    """A source mapping for one canonical table."""

    table: str
    file: FileOptions = Field(default_factory=FileOptions)
    timezone: str = "UTC"
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    dedupe: DedupeRule = Field(default_factory=DedupeRule)



def _contract_problem(m: Mapping) -> tuple[tuple, str] | None:
    """(location, message) of the first way ``m`` does not fit the data contract, or None."""
    table = contract.TABLES.get(m.table)
    if table is None:
        return ("table",), f"unknown table {m.table!r}; known: {', '.join(contract.INGESTIBLE)}"
    known = set(table.column_names) | set(table.personal_fields)
    for name, spec in m.columns.items():
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            return ("columns", name), (
                f"not a column of {m.table}" + (f" (did you mean {close[0]!r}?)" if close else "")
                + f"; columns: {', '.join(sorted(known))}")
        if name in table.key and spec.missing == "flag":
            return ("columns", name, "missing"), "a key column cannot be kept empty (flag)"
    return None


def _coerce(raw: Any) -> Any:
    """Allow the shorthand ``canonical: source_column`` in ``columns``."""
    if isinstance(raw, dict) and isinstance(raw.get("columns"), dict):
        raw = dict(raw)
        raw["columns"] = {k: ({"from": v} if isinstance(v, str) else v)
                          for k, v in raw["columns"].items()}
    return raw


def parse_mapping(data: Any, *, origin: str = "<mapping>", text: str | None = None,
                  table: str | None = None) -> Mapping:
    """Validate mapping ``data`` (already parsed YAML); ``ConfigError`` names key and line."""
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: a mapping must be a YAML object with `table:` and `columns:`")
    data = dict(data)
    if table is not None:
        if data.get("table", table) != table:
            raise ConfigError(f"{origin}: the mapping is for table {data['table']!r}, "
                              f"but --table {table} was asked for")
        data["table"] = table
    try:
        mapping = Mapping.model_validate(_coerce(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            close = difflib.get_close_matches(loc[-1], parent, n=1) if parent else []
            msg = f"unknown key {loc[-1]!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
        raise _located(origin, text, err["loc"], msg) from None
    problem = _contract_problem(mapping)
    if problem:
        raise _located(origin, text, *problem)
    return mapping


def _located(origin: str, text: str | None, loc: tuple, msg: str) -> ConfigError:
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = yaml_line(text, loc) if text else None
    where = f"{origin}, line {line}" if line else origin
    return ConfigError(f"{where}: {key}: {msg}")


def _model_at(loc: list[str]) -> list[str]:
    """Known keys at a location of the mapping (for 'did you mean')."""
    if not loc:
        return list(Mapping.model_fields)
    if loc == ["file"]:
        return list(FileOptions.model_fields)
    if loc == ["dedupe"]:
        return list(DedupeRule.model_fields)
    if len(loc) == 2 and loc[0] == "columns":
        return ["from", *[k for k in ColumnSpec.model_fields if k != "source"]]
    return []


def load_mapping(path: str | Path, *, table: str | None = None) -> Mapping:
    """Read and validate a mapping YAML file; ``ConfigError`` names the key and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ConfigError(f"cannot read mapping {path}: {exc.strerror}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return parse_mapping(data, origin=str(path), text=text, table=table)


def default_mapping(table: str) -> Mapping:
    """The mapping used when none is given: canonical names, defaults for everything else."""
    return Mapping(table=table)
