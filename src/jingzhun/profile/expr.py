"""A small expression language over a table's columns, compiled to Ibis (tags, audiences).

A rule is one expression, e.g. ``monetary_net >= p90(monetary_net) and orders > 0``. It is read
with Python's parser (``ast.parse`` only: nothing is ever evaluated, compiled or executed by
Python) and turned into an Ibis expression by walking a whitelist of syntax; anything else is a
``ConfigError`` naming the rule and the position (``line:column``, both 1-based, within the
expression). Grammar::

    expr     := expr "or" expr | expr "and" expr | "not" expr | comparison
    comparison := sum (cmp_op sum)*            # chained: 1 <= x < 5 means 1 <= x and x < 5
               | sum ["not"] "in" "(" literal ("," literal)* [","] ")"     # or [...]
               | sum "is" ["not"] ("None" | "null")
    cmp_op   := "==" | "!=" | "<" | "<=" | ">" | ">="
    sum      := sum ("+" | "-") product | product
    product  := product ("*" | "/") unary | unary
    unary    := "-" unary | "+" unary | atom
    atom     := column | literal | call | "(" expr ")"
    literal  := number | 'string' | "string" | True | False | None | true | false | null
    call     := pNN(expr) | median(expr) | mean(expr) | min(expr) | max(expr)   # whole table
              | coalesce(expr, expr, ...) | abs(expr) | log1p(expr)              # row-wise

Semantics (the same on every backend):

* ``null``, ``true`` and ``false`` (any case) are keywords, never column names.
* A comparison (``==``, ``<``, ``in``, ...) involving a null is **false**, so a customer with a null
  ``recency_days`` is neither ``recency_days < 30`` nor ``recency_days >= 30``; ``and``/``or``/
  ``not`` are ordinary two-valued logic over those results (``not (recency_days < 30)`` holds for
  a null). Test for nulls with ``x is None`` / ``x is not None``.
* ``/`` is true division in float64; division by zero gives null (and a comparison with it is
  false). ``+ - *`` follow the backend's numeric types.
* A string literal compared with a date or timestamp column is read as an ISO date/time
  (``last_order_at >= '2024-06-01'``).
* Whole-table values are computed over all rows of the table the expression is compiled against:
  ``pNN(x)`` (NN in 1..99) and ``median(x)`` (= ``p50``) are the exact linear-interpolation
  quantile over the non-null values (numpy's default ``quantile``, DuckDB's ``quantile_cont``):
  with the ``n`` values sorted, ``v[0] .. v[n-1]``, and ``h = (n - 1) * NN / 100``,
  ``pNN = v[floor(h)] + (v[ceil(h)] - v[floor(h)]) * (h - floor(h))``, computed in float64 with
  that formula on every backend, so DuckDB and Spark agree to the last bit. (Ibis's ``quantile``
  is exact too -- Spark's ``percentile``, DuckDB's ``quantile_cont`` -- but the two round the
  interpolation differently: they disagreed in the last bit on about half of 100 random cases,
  enough to move a customer on the boundary.) ``mean``, ``min`` and ``max`` skip nulls;
  all are null on an empty table. ``mean`` may differ between backends in the last bits
  (summation order).
* ``coalesce(a, b, ...)`` the first non-null; ``abs(x)``; ``log1p(x)`` = ln(1 + x), null for
  x <= -1.

NaN is not expected (the profile writes nulls); where it occurs it compares as the backend does.
"""

from __future__ import annotations

import ast
import datetime as _dt
import difflib
import io
import math
import re
import tokenize
import unicodedata
from collections.abc import Collection

import ibis
import ibis.expr.types as ir

from jingzhun.errors import ConfigError

#: Keywords read as literals (case-insensitive), never as column names.
KEYWORDS = {"null": None, "true": True, "false": False}
#: Functions over the whole table (one value), besides ``p1`` .. ``p99``.
AGGREGATES = ("median", "mean", "min", "max")
#: Row-wise functions: name -> (fewest, most) arguments (None: no upper limit).
SCALAR_FUNCTIONS = {"coalesce": (2, None), "abs": (1, 1), "log1p": (1, 1)}
MAX_LENGTH = 10_000
_FUNCTION_NAMES = ["p1 .. p99", *AGGREGATES, *SCALAR_FUNCTIONS]

_QUANTILE = re.compile(r"p([1-9][0-9]?)")
_INT64 = (-(2**63), 2**63 - 1)
_CMP = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITH = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_NOT_SUPPORTED = {
    ast.BitAnd: "'&' is not supported; use 'and'", ast.BitOr: "'|' is not supported; use 'or'",
    ast.Invert: "'~' is not supported; use 'not'", ast.BitXor: "'^' is not supported",
    ast.Mod: "'%' is not supported", ast.Pow: "'**' is not supported",
    ast.FloorDiv: "'//' is not supported; use '/'", ast.LShift: "'<<' is not supported",
    ast.RShift: "'>>' is not supported", ast.MatMult: "'@' is not supported",
}
_NODE_WORDS = {
    ast.Attribute: "attribute access ('a.b')", ast.Subscript: "a subscript ('x[0]')",
    ast.Lambda: "lambda", ast.IfExp: "'... if ... else ...'", ast.NamedExpr: "':='",
    ast.JoinedStr: "an f-string", ast.ListComp: "a comprehension", ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension", ast.GeneratorExp: "a comprehension", ast.Dict: "a dictionary",
    ast.Set: "a set", ast.Starred: "'*'", ast.Await: "await", ast.Yield: "yield", ast.Slice: "a slice",
}


# ----------------------------------------------------------------------------------------- parse

def _error(name: str, text: str, node: ast.AST | tuple[int, int] | None, problem: str,
           *, suffix: str = "", hint: str | None = None) -> ConfigError:
    """``ConfigError`` '<name>: <problem> at <line>:<col><suffix>' (1-based, in characters)."""
    where = ""
    if node is not None:
        line, col = node if isinstance(node, tuple) else _position(text, node)
        where = f" at {line}:{col}"
    return ConfigError(f"{name}: {problem}{where}{suffix}", hint=hint)


def _position(text: str, node: ast.AST) -> tuple[int, int]:
    """1-based (line, character column) of ``node`` in ``text`` (``ast`` counts UTF-8 bytes)."""
    lines = text.split("\n")
    line = max(1, min(node.lineno - 1, len(lines)))  # -1: the wrapping "(\n" of ``_parse``
    raw = lines[line - 1].encode("utf-8")[: node.col_offset]
    return line, len(raw.decode("utf-8", errors="ignore")) + 1


def _caret(text: str, line: int, col: int) -> str:
    """The line and a caret under column ``col`` (wide CJK characters take two cells)."""
    src = text.split("\n")[line - 1] if 0 < line <= text.count("\n") + 1 else ""
    pad = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in src[: col - 1])
    return f"  {src}\n  {' ' * pad}^"


def _parse(text: str, name: str) -> ast.expr:
    """The syntax tree of ``text``; ``ConfigError`` with line:column on a syntax error.

    The text is parsed inside parentheses so that an expression may span lines (YAML block
    scalars) and start with spaces; positions are mapped back to ``text``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"{name}: the expression is empty", hint="write a condition such as 'orders > 0'")
    if len(text) > MAX_LENGTH:
        raise ConfigError(f"{name}: the expression is longer than {MAX_LENGTH} characters")
    wrapped = f"(\n{text}\n)"
    try:
        tree = ast.parse(wrapped, mode="eval")
    except SyntaxError as exc:
        n_lines = text.count("\n") + 1
        line, col = (exc.lineno or 2) - 1, exc.offset or 1
        if line < 1 or line > n_lines:  # at the closing wrapper: the text ended too early
            line, col = n_lines, len(text.split("\n")[-1]) + 1
        # line numbers in CPython's wording count the wrapper's first line: drop them
        msg = re.sub(r"\. Perhaps you forgot a comma\?$| \(detected at line \d+\)|"
                     r" on line \d+", "", exc.msg or "invalid syntax")
        raise _error(name, text, (line, col), f"syntax error ({msg})", hint=_caret(text, line, col)) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ConfigError(f"{name}: the expression cannot be read ({type(exc).__name__})") from None
    _check_brackets(wrapped, text, name)
    return tree.body


def _check_brackets(wrapped: str, text: str, name: str) -> None:
    """Reject a ')' that closes the wrapping parenthesis early (``a) or (b`` would parse)."""
    depth = 0
    tokens = list(tokenize.generate_tokens(io.StringIO(wrapped).readline))
    ops = [t for t in tokens if t.type == tokenize.OP and t.string in "()[]{}"]
    for i, tok in enumerate(ops):
        depth += 1 if tok.string in "([{" else -1
        if depth == 0 and i != len(ops) - 1:
            line, col = tok.start[0] - 1, tok.start[1] + 1
            raise _error(name, text, (line, col), f"syntax error (unmatched {tok.string!r})",
                         hint=_caret(text, line, col))


# ----------------------------------------------------------------------------------------- check

def _is_aggregate(fname: str) -> bool:
    return fname in AGGREGATES or _QUANTILE.fullmatch(fname) is not None


def _literal_value(node: ast.AST) -> tuple[bool, object]:
    """(True, value) when ``node`` is a literal (constant, keyword, negative number)."""
    if isinstance(node, ast.Constant):
        return True, node.value
    if isinstance(node, ast.Name) and node.id.lower() in KEYWORDS:
        return True, KEYWORDS[node.id.lower()]
    if (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd)
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float)):
        return True, -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    return False, None


class _Checker:
    """Walks a syntax tree, allowing only the language's nodes; collects the columns used."""

    def __init__(self, text: str, name: str, columns: Collection[str] | None):
        self.text, self.name, self.columns = text, name, columns
        self.used: set[str] = set()

    def fail(self, node, problem, **kw) -> ConfigError:
        return _error(self.name, self.text, node, problem, **kw)

    def visit(self, node: ast.AST, *, in_aggregate: bool = False) -> None:
        kw = {"in_aggregate": in_aggregate}
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.visit(value, **kw)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.Not | ast.USub | ast.UAdd):
                raise self.fail(node, _NOT_SUPPORTED.get(type(node.op), "this operator is not supported"))
            self.visit(node.operand, **kw)
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _ARITH:
                raise self.fail(node, _NOT_SUPPORTED.get(type(node.op), "this operator is not supported"))
            self.visit(node.left, **kw)
            self.visit(node.right, **kw)
        elif isinstance(node, ast.Compare):
            self._compare(node, **kw)
        elif isinstance(node, ast.Name):
            self._name(node)
        elif isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.Call):
            self._call(node, **kw)
        elif isinstance(node, ast.Tuple | ast.List):
            raise self.fail(node, "a list of values is only allowed after 'in' / 'not in'")
        else:
            word = _NODE_WORDS.get(type(node), f"'{type(node).__name__}'")
            raise self.fail(node, f"{word} is not allowed in an expression",
                            hint="allowed: columns, literals, and/or/not, comparisons, + - * /, "
                                 f"and the functions {', '.join(_FUNCTION_NAMES)}")

    def _compare(self, node: ast.Compare, **kw) -> None:
        self.visit(node.left, **kw)
        special = [op for op in node.ops if isinstance(op, ast.In | ast.NotIn | ast.Is | ast.IsNot)]
        if special and len(node.ops) > 1:
            raise self.fail(node, "'in' / 'is' cannot be chained with other comparisons; use 'and'")
        for op, right in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                if _literal_value(right) != (True, None):
                    raise self.fail(right, "'is' / 'is not' only test for None (null)",
                                    hint="write 'x is None' or 'x is not None'; compare values with ==")
            elif isinstance(op, ast.In | ast.NotIn):
                self._in_list(right)
            else:
                if _literal_value(right) == (True, None) or _literal_value(node.left) == (True, None):
                    raise self.fail(node, "a comparison with null is never true",
                                    hint="write 'x is None' or 'x is not None'")
                self.visit(right, **kw)

    def _in_list(self, node: ast.AST) -> None:
        if not isinstance(node, ast.Tuple | ast.List):
            raise self.fail(node, "'in' needs a list of literal values, such as ('dormant', 'lost')")
        for item in node.elts:
            is_literal, value = _literal_value(item)
            if not is_literal:
                raise self.fail(item, "the values after 'in' must be literals (numbers, strings, true/false)")
            if value is None:
                raise self.fail(item, "null in an 'in' list never matches",
                                hint="test with 'x is None' separately")
            if isinstance(item, ast.Constant):
                self._constant(item)

    def _name(self, node: ast.Name) -> None:
        if node.id.lower() in KEYWORDS:
            return
        if self.columns is not None and node.id not in self.columns:
            known = sorted(self.columns)
            close = difflib.get_close_matches(node.id, known, n=1)
            raise self.fail(node, f"unknown column {node.id!r}",
                            suffix=f"; did you mean {close[0]!r}?" if close else "",
                            hint="known columns: " + ", ".join(known))
        self.used.add(node.id)

    def _constant(self, node: ast.Constant) -> None:
        value = node.value
        if value is None or isinstance(value, bool | str):
            return
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail(node, f"the number {value} is not finite")
            return
        if isinstance(value, int):
            if not _INT64[0] <= value <= _INT64[1]:
                raise self.fail(node, f"the number {value} does not fit in 64 bits")
            return
        raise self.fail(node, f"{type(value).__name__} literals are not allowed")

    def _call(self, node: ast.Call, *, in_aggregate: bool) -> None:
        if not isinstance(node.func, ast.Name):
            raise self.fail(node, "only the named functions can be called",
                            hint="functions: " + ", ".join(_FUNCTION_NAMES))
        fname = node.func.id
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise self.fail(node, f"{fname}() takes plain arguments only (no name=value, no *)")
        if _is_aggregate(fname):
            low, high = 1, 1
            if in_aggregate:
                raise self.fail(node, f"{fname}() cannot be used inside another whole-table function")
        elif fname in SCALAR_FUNCTIONS:
            low, high = SCALAR_FUNCTIONS[fname]
        else:
            known = [*AGGREGATES, *SCALAR_FUNCTIONS, "p50", "p90"]
            close = difflib.get_close_matches(fname, known, n=1)
            raise self.fail(node, f"unknown function {fname!r}",
                            suffix=f"; did you mean {close[0]!r}?" if close else "",
                            hint="functions: " + ", ".join(_FUNCTION_NAMES))
        n = len(node.args)
        if n < low or (high is not None and n > high):
            want = f"{low}" if low == high else f"at least {low}"
            raise self.fail(node, f"{fname}() takes {want} argument{'s' if want != '1' else ''}, got {n}")
        for arg in node.args:
            self.visit(arg, in_aggregate=in_aggregate or _is_aggregate(fname))


def _cannot_be_boolean(node: ast.AST) -> bool:
    """True when the syntax alone shows the expression is a value, not a condition."""
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.Call):
        return not (isinstance(node.func, ast.Name) and node.func.id == "coalesce")
    if isinstance(node, ast.UnaryOp):
        return not isinstance(node.op, ast.Not)
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, bool)
    return False


def check_expression(text: str, columns: Collection[str] | None = None, *, name: str = "expression",
                     boolean: bool = False) -> set[str]:
    """Check ``text`` without a backend and return the columns it uses.

    Parameters
    ----------
    text : str
        The expression.
    columns : collection of str, optional
        The known columns; None skips the column check (syntax and allowed constructs only).
    name : str
        How errors name the expression (e.g. ``"tag 'high_value'"``).
    boolean : bool
        Require a condition (true/false) where the syntax shows it (``orders + 1`` is refused;
        a bare column is accepted, its type being unknown here).

    Returns
    -------
    set of str
        The column names referenced.

    Raises
    ------
    ConfigError
        Syntax error, disallowed construct, unknown function or wrong arity, unknown column.
        Type errors need the column types: see ``compile_expression``.
    """
    body = _parse(text, name)
    checker = _Checker(text, name, columns)
    _walk(checker, body, name)
    if boolean and _cannot_be_boolean(body):
        raise _error(name, text, body, "the expression must be a condition (true/false), not a value")
    return checker.used


def _walk(visitor: _Checker | _Compiler, body: ast.expr, name: str):
    try:
        return visitor.visit(body)
    except RecursionError:
        raise ConfigError(f"{name}: the expression is nested too deeply",
                          hint="split it into simpler rules") from None


def referenced_columns(text: str, *, name: str = "expression") -> set[str]:
    """The column names ``text`` uses (``ConfigError`` if it is not a valid expression)."""
    return check_expression(text, None, name=name)


# --------------------------------------------------------------------------------------- compile

def _kind(value: ir.Value) -> str:
    """What a value is for type checks: null, boolean, number, string, time (or the Ibis type)."""
    t = value.type()
    kinds = (("null", t.is_null), ("boolean", t.is_boolean), ("number", t.is_numeric),
             ("string", t.is_string), ("time", t.is_temporal))
    return next((kind for kind, test in kinds if test()), str(t))


def _false_if_null(condition: ir.BooleanValue) -> ir.BooleanValue:
    return condition.fill_null(False)


def _never_null(node: ast.AST) -> bool:
    """True for the nodes whose compiled condition is never null (comparisons, and/or/not)."""
    return isinstance(node, ast.Compare | ast.BoolOp) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not))


def quantile_exact(table: ibis.Table, value: ir.NumericValue, numerator: int,
                   denominator: int = 100) -> ir.FloatingScalar:
    """The exact linear-interpolation quantile ``numerator / denominator`` of ``value`` over ``table``.

    ``value`` is an expression over ``table``'s columns; nulls are skipped. With the ``n`` non-null
    values sorted ``v[0] .. v[n-1]`` and ``h = (n - 1) * numerator / denominator``, the result is
    ``v[floor(h)] + (v[ceil(h)] - v[floor(h)]) * (h - floor(h))`` in float64 (numpy's default
    ``quantile``); null when there are no values. The interpolation indices are computed from
    integers and the formula is written out, so every backend returns the same double.
    Equal values are grouped first (one row per distinct value with its count), so the window
    that ranks them sees at most as many rows as there are distinct values.

    Returns
    -------
    float64 scalar expression (a scalar subquery over ``table``).
    """
    if not (isinstance(numerator, int) and isinstance(denominator, int) and 0 <= numerator <= denominator
            and denominator > 0):
        raise ValueError(f"need integers 0 <= numerator <= denominator, got {numerator}/{denominator}")
    vals = table.select(v=value.cast("float64"))
    vals = vals.filter(vals.v.notnull())
    g = vals.group_by("v").aggregate(c=vals.count())
    g = g.mutate(end=g.c.sum().over(ibis.cumulative_window(order_by=g.v)), n=g.c.sum().over())
    g = g.mutate(start=g.end - g.c, k=(g.n - 1) * numerator)
    g = g.mutate(lo_i=(g.k / denominator).floor())
    g = g.mutate(hi_i=(g.k / denominator).ceil(), frac=(g.k - g.lo_i * denominator) / denominator)
    parts = g.aggregate(lo=g.v.max(where=(g.start <= g.lo_i) & (g.lo_i < g.end)),
                        hi=g.v.max(where=(g.start <= g.hi_i) & (g.hi_i < g.end)),
                        frac=g.frac.max())
    return parts.select(q=parts.lo + (parts.hi - parts.lo) * parts.frac).as_scalar()


class _Compiler:
    """Builds the Ibis expression of a checked syntax tree over ``table``."""

    def __init__(self, table: ibis.Table, text: str, name: str):
        self.table, self.text, self.name = table, text, name

    def fail(self, node, problem, **kw) -> ConfigError:
        return _error(self.name, self.text, node, problem, **kw)

    def visit(self, node: ast.AST) -> ir.Value:
        is_literal, value = _literal_value(node)
        if is_literal:
            return ibis.null() if value is None else ibis.literal(value)
        if isinstance(node, ast.Name):
            return self.table[node.id]
        if isinstance(node, ast.BoolOp):
            parts = [self._condition(v) for v in node.values]
            out = parts[0]
            for part in parts[1:]:
                out = (out & part) if isinstance(node.op, ast.And) else (out | part)
            return out
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                return ~self._condition(node.operand)
            operand = self._number(node.operand, node, "'-'")
            return -operand if isinstance(node.op, ast.USub) else operand
        if isinstance(node, ast.BinOp):
            return self._arith(node)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise self.fail(node, f"'{type(node).__name__}' is not allowed")  # unreachable after checking

    def _condition(self, node: ast.AST) -> ir.BooleanValue:
        value = self.visit(node)
        if _kind(value) != "boolean":
            raise self.fail(node, f"'and' / 'or' / 'not' need a condition (true/false), got {value.type()}")
        return value if _never_null(node) else _false_if_null(value)

    def _number(self, node: ast.AST, at: ast.AST, what: str) -> ir.NumericValue:
        value = self.visit(node)
        if _kind(value) != "number":
            raise self.fail(at, f"{what} needs numbers, got {value.type()}")
        return value

    def _arith(self, node: ast.BinOp) -> ir.Value:
        symbol = _ARITH[type(node.op)]
        left = self._number(node.left, node, f"{symbol!r}")
        right = self._number(node.right, node, f"{symbol!r}")
        if symbol == "/":
            # true division in float64, and null (not an error: Spark's ANSI mode) for x / 0
            return left.cast("float64") / right.cast("float64").nullif(0.0)
        return {"+": left + right, "-": left - right, "*": left * right}[symbol]

    def _compare(self, node: ast.Compare) -> ir.BooleanValue:
        left_node, left = node.left, self.visit(node.left)
        conditions = []
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot):
                return left.isnull() if isinstance(op, ast.Is) else left.notnull()
            if isinstance(op, ast.In | ast.NotIn):
                return self._isin(left_node, left, right_node, negate=isinstance(op, ast.NotIn))
            right = self.visit(right_node)
            a, b = self._comparable(left_node, left, right_node, right, _CMP[type(op)])
            result = {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b,
                      ">=": a >= b}[_CMP[type(op)]]
            conditions.append(_false_if_null(result))
            left_node, left = right_node, right
        out = conditions[0]
        for c in conditions[1:]:
            out = out & c
        return out

    def _comparable(self, ln: ast.AST, left: ir.Value, rn: ast.AST, right: ir.Value,
                    symbol: str) -> tuple[ir.Value, ir.Value]:
        """The two sides, with an ISO string literal read as a date/time against a time column."""
        kl, kr = _kind(left), _kind(right)
        if kl == "time" and kr == "string" and isinstance(rn, ast.Constant):
            return left, self._time_literal(rn, left)
        if kr == "time" and kl == "string" and isinstance(ln, ast.Constant):
            return self._time_literal(ln, right), right
        ordered = symbol not in ("==", "!=", "in")
        if kl != kr or kl not in ("number", "string", "time", "boolean") or (ordered and kl == "boolean"):
            raise self.fail(ln, f"cannot compare {left.type()} {symbol} {right.type()}")
        return left, right

    def _time_literal(self, node: ast.Constant, column: ir.Value) -> ir.Value:
        try:
            if column.type().is_date():
                return ibis.literal(_dt.date.fromisoformat(node.value), type=column.type())
            return ibis.literal(_dt.datetime.fromisoformat(node.value), type=column.type())
        except ValueError:
            raise self.fail(node, f"{node.value!r} is not an ISO date or time "
                                  "(YYYY-MM-DD[ HH:MM:SS])") from None

    def _isin(self, left_node: ast.AST, left: ir.Value, items: ast.Tuple | ast.List,
              *, negate: bool) -> ir.BooleanValue:
        values = []
        for item in items.elts:
            lit = self.visit(item)
            _, value = self._comparable(left_node, left, item, lit, "in")
            values.append(value)
        if not values:
            result = left.notnull() & ibis.literal(negate)
        else:
            result = left.notin(values) if negate else left.isin(values)
        return _false_if_null(result)

    def _call(self, node: ast.Call) -> ir.Value:
        fname = node.func.id
        args = [self.visit(a) for a in node.args]
        if fname in ("abs", "log1p") or fname in ("mean", "median") or _QUANTILE.fullmatch(fname):
            if _kind(args[0]) != "number":
                raise self.fail(node, f"{fname}() needs a number, got {args[0].type()}")
        if fname in ("min", "max") and _kind(args[0]) not in ("number", "string", "time"):
            raise self.fail(node, f"{fname}() needs numbers, strings or times, got {args[0].type()}")
        x = args[0]
        if _is_aggregate(fname) and not isinstance(x, ir.Column):
            raise self.fail(node, f"{fname}() needs an expression over columns, not a constant")
        match fname:
            case "abs":
                return x.abs()
            case "log1p":
                return ibis.ifelse(x > -1, (x.cast("float64") + 1.0).ln(), ibis.null("float64"))
            case "coalesce":
                kinds = {_kind(a) for a in args} - {"null"}
                if len(kinds) > 1:
                    raise self.fail(node, "coalesce() needs arguments of one type, got "
                                    + ", ".join(str(a.type()) for a in args))
                return ibis.coalesce(*args)
            case "mean":
                return self.table.aggregate(v=x.mean()).as_scalar()
            case "min":
                return self.table.aggregate(v=x.min()).as_scalar()
            case "max":
                return self.table.aggregate(v=x.max()).as_scalar()
            case "median":
                return quantile_exact(self.table, x, 50)
        return quantile_exact(self.table, x, int(_QUANTILE.fullmatch(fname).group(1)))


def compile_expression(text: str, table: ibis.Table, *, name: str = "expression",
                       boolean: bool = False) -> ir.Value:
    """Compile ``text`` (see the module docstring) to an Ibis expression over ``table``'s columns.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"orders >= 3 and discount_order_share > 0.5"``.
    table : ibis.Table
        The table whose columns the expression names; whole-table functions (``p90`` ...) are
        computed over all of its rows. Bound or unbound (``ibis.table(schema)``).
    name : str
        How errors name the expression (e.g. ``"tag 'high_value'"``).
    boolean : bool
        Require a condition (boolean result).

    Returns
    -------
    ibis Value
        A boolean expression that is never null (conditions) or a value expression, over ``table``.

    Raises
    ------
    ConfigError
        Syntax errors, disallowed constructs, unknown columns or functions and type errors, naming
        ``name`` and the line:column in ``text``.
    """
    body = _parse(text, name)
    _walk(_Checker(text, name, table.columns), body, name)
    try:
        result = _walk(_Compiler(table, text, name), body, name)
    except ConfigError:
        raise
    except (ibis.common.exceptions.IbisError, TypeError, AttributeError, ValueError) as exc:
        raise _error(name, text, body, f"cannot be compiled ({exc})") from None
    if _kind(result) == "boolean":
        return result if _never_null(body) else _false_if_null(result)
    if boolean:
        raise _error(name, text, body,
                     f"the expression must be a condition (true/false), got {result.type()}")
    return result
