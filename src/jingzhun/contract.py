"""The data contract: every canonical table, its grain, columns, types, constraints and reason codes.

Ingest enforces this contract; every later stage may rely on it (DESIGN.md §3). Conventions:

* ids are strings; ``customer_id`` is stored pseudonymised (keyed HMAC-SHA256, see
  ``ingest/pseudonymise.py``), personal contact fields never reach a canonical table;
* timestamps (``*_at``) are naive ``TIMESTAMP`` values in **UTC** (the source's time zone is
  declared in its mapping and converted at ingest);
* money is ``DECIMAL`` in the order's/send's currency (orders carry a ``currency`` column);
* every ingested table also carries ``ingest_run_id`` (the run that loaded the row) and
  ``dq_flags`` (data-quality flags such as ``customer_id:missing`` for rows loaded under a
  "keep null and flag" policy; null when clean).

Row numbers in ``quarantine`` are 1-based data-record numbers in the source (the header is not
counted); for a sheet of a workbook they are the sheet's data-row numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["id", "text", "timestamp", "decimal", "integer", "boolean", "json", "enum"]

#: Reason codes a quarantined row can carry, with the human-readable meaning.
REASON_CODES: dict[str, str] = {
    "missing_required": "a required value is empty",
    "bad_date": "a date/time that matches none of the accepted formats",
    "bad_number": "a number that cannot be parsed (after removing currency signs and separators)",
    "bad_boolean": "a yes/no value that is none of the accepted spellings",
    "bad_json": "a JSON value that does not parse",
    "unknown_value": "a value outside the column's vocabulary",
    "out_of_range": "a value outside the column's allowed range",
    "duplicate_key_conflict": "another row with the same key but different content was kept",
    "malformed_row": "the line could not be split into the expected columns",
    "bad_encoding": "bytes that cannot be decoded in the file's encoding",
    "missing_identity": "neither customer_id nor anonymous_id is given",
}

#: Codes of the system tables (not loaded from files).
SYSTEM_TABLES = ("quarantine", "ingest_runs", "identity_vault")


@dataclass(frozen=True)
class Column:
    """One column of a canonical table.

    Parameters
    ----------
    name : str
        Canonical column name (units as suffixes: ``_at`` UTC timestamp, ``_amount`` money).
    kind : Kind
        How raw text is parsed and checked.
    nullable : bool
        Whether the value may be empty; a required value that is empty is ``missing_required``.
    allowed : tuple of str, optional
        The vocabulary of an ``enum`` column (lower case).
    min_value, max_value : float, optional
        Inclusive bounds for numbers; outside them the row gets ``out_of_range``.
    pseudonymised : bool
        Replaced by a keyed HMAC-SHA256 pseudonym at ingest.
    """

    name: str
    kind: Kind
    nullable: bool = True
    allowed: tuple[str, ...] | None = None
    min_value: float | None = None
    max_value: float | None = None
    pseudonymised: bool = False
    description: str = ""

    @property
    def sql_type(self) -> str:
        """The DuckDB type this column is stored as."""
        return _SQL_TYPES[self.kind]


_SQL_TYPES: dict[str, str] = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "enum": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "decimal": "DECIMAL(18,4)",
    "integer": "BIGINT",
    "boolean": "BOOLEAN",
    "json": "JSON",
}


@dataclass(frozen=True)
class Table:
    """A canonical table: its grain (one row per key), columns and table-level rules.

    ``personal_fields`` are accepted from sources but never stored in the table: they go,
    encrypted, to the identity vault.
    """

    name: str
    grain: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    personal_fields: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # at least one of these columns must be non-empty
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_map", {c.name: c for c in self.columns})

    @property
    def column_names(self) -> list[str]:
        """Canonical column names, in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        """The column called ``name`` (``KeyError`` if the table has none)."""
        return self.column_map[name]


def _id(name: str, nullable: bool = False, **kw) -> Column:
    return Column(name, "id", nullable=nullable, **kw)


def _customer_id(nullable: bool = False) -> Column:
    return Column(
        "customer_id", "id", nullable=nullable, pseudonymised=True,
        description="pseudonym: HMAC-SHA256 of the source's customer id",
    )


MONEY_MIN = 0.0
ORDER_STATUSES = ("completed", "cancelled", "returned")
GENDERS = ("female", "male", "other", "unknown")
CAMPAIGN_GOALS = ("retain", "grow", "reactivate", "acquire")
EVENT_TYPES = (
    "view", "add_to_cart", "remove_from_cart", "search", "click", "open", "login",
    "checkout", "purchase", "wishlist", "share", "page_view",
)
RESPONSE_TYPES = (
    "delivered", "open", "click", "visit", "conversion", "unsubscribe", "complaint",
    "redemption", "bounce",
)
PERSONAL_FIELDS = ("name", "phone", "email", "address", "id_number")

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "customers", "one row per customer", ("customer_id",),
            (
                _customer_id(),
                Column("signup_at", "timestamp"),
                Column("gender", "enum", allowed=GENDERS),
                Column("birth_year", "integer", min_value=1900, max_value=2030),
                Column("city", "text"),
                Column("province", "text"),
                Column("country", "text"),
                Column("acquisition_channel", "text"),
                Column("attributes", "json",
                       description="source-specific attributes (e.g. Hillstrom's past-year "
                                   "spend, Complete Journey's demographics), a JSON object"),
            ),
            personal_fields=PERSONAL_FIELDS,
        ),
        Table(
            "orders", "one row per order", ("order_id",),
            (
                _id("order_id"),
                _customer_id(),
                Column("ordered_at", "timestamp", nullable=False),
                Column("channel", "text"),
                Column("status", "enum", nullable=False, allowed=ORDER_STATUSES),
                Column("currency", "text", nullable=False),
                Column("total_amount", "decimal", nullable=False),
                Column("discount_amount", "decimal", min_value=MONEY_MIN),
                Column("coupon_code", "text"),
            ),
        ),
        Table(
            "order_lines", "one row per order line (negative quantity = return)",
            ("order_id", "line_no"),
            (
                _id("order_id"),
                Column("line_no", "integer", nullable=False, min_value=1),
                _id("product_id"),
                Column("quantity", "integer", nullable=False),
                Column("unit_price", "decimal", nullable=False, min_value=MONEY_MIN),
                Column("discount", "decimal", min_value=MONEY_MIN),
            ),
        ),
        Table(
            "products", "one row per product", ("product_id",),
            (
                _id("product_id"),
                Column("name", "text"),
                Column("category", "text"),
                Column("subcategory", "text"),
                Column("brand", "text"),
                Column("list_price", "decimal", min_value=MONEY_MIN),
            ),
        ),
        Table(
            "events", "one row per behaviour event", ("event_id",),
            (
                _id("event_id"),
                _customer_id(nullable=True),
                Column("anonymous_id", "id"),
                Column("occurred_at", "timestamp", nullable=False),
                Column("type", "enum", nullable=False, allowed=EVENT_TYPES),
                Column("product_id", "id"),
                Column("session_id", "id"),
                Column("properties", "json"),
            ),
            one_of=("customer_id", "anonymous_id"),
        ),
        Table(
            "consents", "one row per consent change (append-only; current = latest)",
            ("customer_id", "channel", "purpose", "changed_at"),
            (
                _customer_id(),
                Column("channel", "text", nullable=False),
                Column("purpose", "text", nullable=False),
                Column("changed_at", "timestamp", nullable=False),
                Column("granted", "boolean", nullable=False),
                Column("source", "text"),
            ),
        ),
        Table(
            "campaigns", "one row per campaign", ("campaign_id",),
            (
                _id("campaign_id"),
                Column("name", "text"),
                Column("goal", "enum", allowed=CAMPAIGN_GOALS),
                Column("channel", "text"),
                Column("starts_at", "timestamp"),
                Column("ends_at", "timestamp"),
            ),
        ),
        Table(
            "sends", "one row per campaign and customer", ("campaign_id", "customer_id"),
            (
                _id("campaign_id"),
                _customer_id(),
                Column("arm", "text", nullable=False),
                Column("channel", "text"),
                Column("offer_id", "id"),
                Column("content_id", "id"),
                Column("sent_at", "timestamp"),
                Column("cost", "decimal", min_value=MONEY_MIN),
            ),
        ),
        Table(
            "responses",
            "one row per campaign, customer, response type, time and offer (time null when the "
            "source has none; offer null unless the response names one, e.g. a redeemed coupon)",
            ("campaign_id", "customer_id", "type", "occurred_at", "offer_id"),
            (
                _id("campaign_id"),
                _customer_id(),
                Column("type", "enum", nullable=False, allowed=RESPONSE_TYPES),
                Column("occurred_at", "timestamp"),
                Column("offer_id", "id"),
                Column("revenue", "decimal"),
            ),
        ),
        Table(
            "plans", "one row per campaign and customer considered", ("campaign_id", "customer_id"),
            (
                _id("campaign_id"),
                _customer_id(),
                Column("arm", "enum", nullable=False, allowed=("treatment", "control", "excluded")),
                Column("channel", "text"),
                Column("offer_id", "id"),
                Column("content_id", "id"),
                Column("expected_uplift", "decimal"),
                Column("expected_profit", "decimal"),
                Column("cost", "decimal", min_value=MONEY_MIN),
                Column("reason", "text"),
            ),
        ),
    )
}

#: Tables that ingest can load from files (``plans`` is produced by the plan stage).
INGESTIBLE = tuple(name for name in TABLES if name != "plans")

#: Columns added to every ingested table.
LINEAGE_COLUMNS: tuple[tuple[str, str], ...] = (("ingest_run_id", "VARCHAR"), ("dq_flags", "VARCHAR"))

#: System tables: DuckDB DDL column lists (name, type).
SYSTEM_TABLE_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "quarantine": (
        ("run_id", "VARCHAR"),
        ("source", "VARCHAR"),
        ("row_number", "BIGINT"),
        ("table_name", "VARCHAR"),
        ("column_name", "VARCHAR"),
        ("raw_value", "VARCHAR"),
        ("reason_code", "VARCHAR"),
        ("reason", "VARCHAR"),
        ("raw_record", "JSON"),
    ),
    "ingest_runs": (
        ("run_id", "VARCHAR"),
        ("source_file", "VARCHAR"),
        ("source_name", "VARCHAR"),
        ("table_name", "VARCHAR"),
        ("sha256", "VARCHAR"),
        ("status", "VARCHAR"),  # loaded | already_loaded
        ("rows_read", "BIGINT"),
        ("rows_loaded", "BIGINT"),
        ("rows_quarantined", "BIGINT"),
        ("rows_duplicate", "BIGINT"),
        ("started_at", "TIMESTAMP"),
        ("finished_at", "TIMESTAMP"),
    ),
    "identity_vault": (
        ("customer_id", "VARCHAR"),
        ("field", "VARCHAR"),
        ("ciphertext", "VARCHAR"),
        ("run_id", "VARCHAR"),
    ),
}


def get_table(name: str) -> Table:
    """The canonical table called ``name``; ``ContractError`` listing the known ones otherwise."""
    from jingzhun.errors import ContractError

    try:
        return TABLES[name]
    except KeyError:
        raise ContractError(
            f"unknown table {name!r}",
            hint=f"known tables: {', '.join(INGESTIBLE)}",
        ) from None
