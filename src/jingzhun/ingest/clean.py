"""SQL expressions that turn raw text into typed canonical values (run inside DuckDB).

Each builder takes a SQL expression of the raw text (already trimmed, empty -> NULL) and returns
the typed value's expression; a value is *bad* when the raw text is present but the typed value is
NULL. Written as SQL so that a file of any size is cleaned in one streaming pass of DuckDB, not
row by row in Python.

Accepted spellings (besides those a mapping declares):

* numbers: ``1,234.00``, ``￥88.00``, ``¥88``, ``$5``, ``88元``, ``RMB 88``, ``(12.50)`` (= -12.50),
  ``1 234``;
* timestamps: ISO 8601 (``2024-01-06``, ``2024-01-06T08:00:00``, with ``Z`` or an offset such as
  ``+08:00`` -- an explicit offset wins over the mapping's time zone), ``2024/1/6``,
  ``2024/1/6 9:05``, ``20240107``, ``2024年1月8日``, ``2024.1.6``, Excel serial day numbers
  (``45299`` or ``45299.5``, 1960..2100); ambiguous day-first forms such as ``06/01/2024`` are
  only read when the mapping lists their format;
* booleans: true/false, t/f, yes/no, y/n, 1/0, 是/否, on/off, granted/denied.
"""

from __future__ import annotations

NULL_TOKENS = ("", "null", "none", "nan", "na", "n/a", "\\n", "#n/a")

DEFAULT_DATE_FORMATS = (
    "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d",
    "%Y%m%d%H%M%S", "%Y%m%d",
    "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日", "%Y年%m月%d号",
    "%Y.%m.%d %H:%M:%S", "%Y.%m.%d",
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f",
)

TRUE_WORDS = ("true", "t", "yes", "y", "1", "是", "on", "granted", "opt_in", "opt-in", "√")
FALSE_WORDS = ("false", "f", "no", "n", "0", "否", "off", "denied", "opt_out", "opt-out", "×")

#: Vocabularies every mapping gets for enum columns (raw lower-cased -> canonical).
DEFAULT_VALUES: dict[str, dict[str, str]] = {
    "gender": {"男": "male", "女": "female", "m": "male", "f": "female", "男性": "male",
               "女性": "female", "man": "male", "woman": "female", "未知": "unknown",
               "u": "unknown", "保密": "unknown", "其他": "other"},
    "status": {"已完成": "completed", "完成": "completed", "complete": "completed",
               "paid": "completed", "shipped": "completed", "delivered": "completed",
               "已取消": "cancelled", "取消": "cancelled", "canceled": "cancelled",
               "已退货": "returned", "退货": "returned", "refunded": "returned"},
}

_EXCEL_EPOCH_S = -2209161600  # 1899-12-30 00:00:00 UTC in Unix seconds (Excel's day 0)


def lit(value) -> str:
    """A SQL string literal (or NULL)."""
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


_BLANKS = " \t\r\n\u3000\ufeff"


def one_of(expr: str, values) -> str:
    """``expr`` is one of the constant ``values`` (NULL when ``expr`` is NULL).

    ``list_contains`` rather than ``IN (...)``: DuckDB plans a long ``IN`` list as a hash join,
    and a statement with dozens of them runs several times slower.
    """
    return f"list_contains([{', '.join(lit(v) for v in values)}], {expr})"


def trimmed(col_sql: str) -> str:
    """Text without leading/trailing blanks (incl. the ideographic space and a stray BOM).

    Trimming with a character set is slow; most values have nothing to trim, so it runs only
    when the first or last character is a blank.
    """
    return (f"CASE WHEN {one_of(f'left({col_sql}, 1)', _BLANKS)} "
            f"OR {one_of(f'right({col_sql}, 1)', _BLANKS)} "
            f"THEN trim({col_sql}, {lit(_BLANKS)}) ELSE {col_sql} END")


def null_tokens_to_null(text_sql: str) -> str:
    """NULL for the null tokens (empty, NULL, NaN, N/A, ...), the text otherwise."""
    longest = max(len(t) for t in NULL_TOKENS)
    return (f"CASE WHEN length({text_sql}) <= {longest} "
            f"AND {one_of(f'lower({text_sql})', NULL_TOKENS)} "
            f"THEN NULL ELSE {text_sql} END")


def _number_text(s: str) -> str:
    """Strip currency signs/words, thousands separators and blanks; ``(x)`` -> ``-x``."""
    stripped = (
        f"regexp_replace(regexp_replace({s}, '^\\((.*)\\)$', '-\\1'), "
        f"'[,\\s￥¥$€£元]|RMB|CNY|USD|EUR|GBP|HKD', '', 'g')"
    )
    return stripped


def parse_decimal(s: str) -> str:
    """Typed DECIMAL(18,4) of text ``s`` (NULL when it does not parse)."""
    return f"TRY_CAST({_number_text(s)} AS DECIMAL(18,4))"


def parse_integer(s: str) -> str:
    """Typed BIGINT of text ``s``; ``3.0`` is 3, ``3.5`` does not parse."""
    d = f"TRY_CAST({_number_text(s)} AS DOUBLE)"
    return f"CASE WHEN {d} = round({d}) AND abs({d}) < 9e15 THEN CAST({d} AS BIGINT) END"


def parse_boolean(s: str) -> str:
    """Typed BOOLEAN of text ``s`` (see the module doc for the spellings)."""
    low = f"lower({s})"
    return (f"CASE WHEN {one_of(low, TRUE_WORDS)} THEN true "
            f"WHEN {one_of(low, FALSE_WORDS)} THEN false END")


def parse_json(s: str) -> str:
    """Typed JSON of text ``s`` (NULL when it is not valid JSON)."""
    return f"CASE WHEN json_valid({s}) THEN CAST({s} AS JSON) END"


def has_offset(s: str) -> str:
    """Whether text ``s`` ends in an explicit UTC offset (``Z``, ``+08:00``, ``-0500``)."""
    return f"regexp_matches({s}, '(Z|[+-]\\d\\d:?\\d\\d)$')"


def parse_timestamp(s: str, formats: list[str] | tuple[str, ...] = ()) -> str:
    """Typed TIMESTAMP of text ``s``: naive values as written, values with an explicit offset or
    ``Z`` converted to UTC.

    Tries ``formats`` first (in order), then ISO 8601, then ``DEFAULT_DATE_FORMATS``, then Excel
    serial days. Naive values are local times of the mapping's zone; ``ingest.load`` shifts them
    to UTC afterwards, once per distinct quarter-hour rather than per row.
    """
    iso = f"TRY_CAST({s} AS TIMESTAMP)"
    defaults = "[" + ", ".join(lit(f) for f in DEFAULT_DATE_FORMATS) + "]"
    aware = f"timezone('UTC', TRY_CAST({s} AS TIMESTAMPTZ))"
    serial = f"TRY_CAST({s} AS DOUBLE)"
    excel = (f"CASE WHEN regexp_matches({s}, '^\\d{{5}}(\\.\\d+)?$') AND {serial} BETWEEN 21916 "
             f"AND 73051 THEN make_timestamp(CAST(({serial} * 86400 + {_EXCEL_EPOCH_S}) "
             f"* 1000000 AS BIGINT)) END")
    # CASE, not coalesce, so that the slow format list runs only on what ISO did not parse
    naive = (f"CASE WHEN {iso} IS NOT NULL THEN {iso} "
             f"ELSE coalesce(try_strptime({s}, {defaults}), {excel}) END")
    if formats:
        declared = "[" + ", ".join(lit(f) for f in formats) + "]"
        naive = f"coalesce(try_strptime({s}, {declared}), {naive})"
    return f"CASE WHEN {has_offset(s)} THEN {aware} ELSE {naive} END"


def map_values(s: str, values: dict[str, str], column: str) -> str:
    """Apply a vocabulary (case-insensitive) to text ``s``; unmapped values are lower-cased."""
    vocab = {**DEFAULT_VALUES.get(column, {}), **{k.lower(): v for k, v in values.items()}}
    if not vocab:
        return f"lower({s})"
    cases = " ".join(f"WHEN {lit(k)} THEN {lit(v)}" for k, v in vocab.items())
    return f"CASE lower({s}) {cases} ELSE lower({s}) END"
