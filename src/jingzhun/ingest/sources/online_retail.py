"""UCI Online Retail II (Chen 2019): a UK gift retailer's invoice lines, 2009-12 .. 2011-12.

PATH is ``online_retail_II.xlsx``; every sheet is read (the workbook has ``Year 2009-2010`` and
``Year 2010-2011``, with columns ``Invoice, StockCode, Description, Quantity, InvoiceDate,
Price, Customer ID, Country``). Times are read in ``Europe/London`` and stored in UTC; money is
GBP. The feeds, in load order:

* ``customers`` -- one row per distinct ``Customer ID`` (``rows_read`` counts them; Excel stores
  the id as a float, the stager writes ``12345.0`` as ``12345``). ``country`` = the country of
  the customer's latest invoice (two customers of the 10-country subset appear under two
  countries); ``Unspecified`` is stored as null. Lines without a Customer ID are guests' and
  make no customer.
* ``products`` -- one row per distinct ``StockCode`` (``rows_read`` counts them). ``name`` = the
  latest Description on a line with a positive price (else the latest Description): the
  retailer renamed products over time. ``category`` = ``service`` for the non-product codes
  (``SERVICE_CODES``: postage, carriage, manual, discount, adjustments, fees ...), null otherwise
  (the data set has no categories).
* ``orders`` -- one row per invoice and sheet (``rows_read`` counts them). ``customer_id`` from
  Customer ID; guests' invoices have none and load with ``dq_flags`` ``customer_id:missing``
  (``missing: flag``). ``ordered_at`` = the invoice's earliest InvoiceDate (one invoice spans two
  minutes). ``total_amount`` = sum of Quantity x Price (negative for a cancellation); if a line's
  number does not parse, the invoice is quarantined (``bad_number``, the bad values quoted).
  ``status``: ``cancelled`` for invoices starting with ``C``, ``completed`` otherwise -- except
  ``A`` invoices (bad-debt adjustments of the full workbook, not orders), which are quarantined
  as ``unknown_value`` with status ``adjustment``.
* ``order_lines`` -- one row per line (``rows_read`` counts every raw row of every sheet).
  ``line_no`` = the line's number within its invoice in sheet order; ``unit_price`` = Price
  (a negative price, such as the full workbook's "Adjust bad debt" lines, is quarantined as
  ``out_of_range``). Lines that repeat another line of the same invoice exactly are separate
  records of the source (the same item entered twice) and are kept (``exact_duplicates: keep``):
  their ``line_no`` differ.

The two sheets overlap: the invoices of 2010-12-01 .. 2010-12-09 are in both, line for line
(23 invoices, 441 lines in the 10-country subset). The second copy of such an invoice and of its
lines has the same key and content as the first and is counted as a duplicate, so each invoice
loads once.
"""

from __future__ import annotations

from pathlib import Path

from jingzhun.ingest.feeds import run_feeds, stage_named
from jingzhun.ingest.load import IngestResult
from jingzhun.ingest.read import ProgressFn
from jingzhun.ingest.sources import Source

#: StockCodes that are services, fees or bookkeeping entries rather than products
SERVICE_CODES = ("POST", "DOT", "M", "m", "D", "C2", "C3", "S", "B", "BANK CHARGES",
                 "AMAZONFEE", "CRUK", "ADJUST", "ADJUST2", "PADS")
TIMEZONE = "Europe/London"
_STAGED = "_online_retail"
_COLUMNS = ("Invoice", "StockCode", "Description", "Quantity", "InvoiceDate", "Price",
            "Customer ID", "Country")

_MAPPINGS = {
    "customers": {"columns": {"customer_id": "Customer ID", "country": "Country"}},
    "products": {"columns": {"product_id": "StockCode", "name": "Description",
                             "category": "category"}},
    "orders": {
        "timezone": TIMEZONE,
        "columns": {
            "order_id": "Invoice",
            "customer_id": {"from": "Customer ID", "missing": "flag"},
            "ordered_at": "InvoiceDate",
            "status": "status",
            "currency": {"const": "GBP"},
            "total_amount": "invoice_total",
        },
    },
    "order_lines": {
        "columns": {"order_id": "Invoice", "line_no": "line_no", "product_id": "StockCode",
                    "quantity": "Quantity", "unit_price": "Price"},
        "dedupe": {"exact_duplicates": "keep"},  # repeated lines of an invoice are real
    },
}


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _feeds() -> list[tuple[str, str]]:
    """(table, feed SQL over the staged table) in load order."""
    t = _STAGED
    # chronological order key of a line: time, then sheet, then row (sheets sort by year)
    k = "InvoiceDate || _source || lpad(CAST(_row AS VARCHAR), 9, '0')"
    services = ", ".join(_lit(c) for c in SERVICE_CODES)
    amount = "TRY_CAST(Quantity AS DECIMAL(18,4)) * TRY_CAST(Price AS DECIMAL(18,4))"
    bad_line = f"({amount}) IS NULL"
    return [
        ("customers",
         f"SELECT arg_min(_row, k) AS _row, arg_min(_source, k) AS _source, "
         f"\"Customer ID\", nullif(arg_max(Country, k), 'Unspecified') AS Country "
         f"FROM (SELECT *, {k} AS k FROM {t}) WHERE \"Customer ID\" IS NOT NULL "
         f"GROUP BY \"Customer ID\" ORDER BY _source, _row"),
        ("products",
         f"SELECT arg_min(_row, k) AS _row, arg_min(_source, k) AS _source, StockCode, "
         f"coalesce(arg_max(Description, k) FILTER (WHERE TRY_CAST(Price AS DOUBLE) > 0 "
         f"AND Description IS NOT NULL), arg_max(Description, k) FILTER "
         f"(WHERE Description IS NOT NULL)) AS Description, "
         f"CASE WHEN StockCode IN ({services}) THEN 'service' END AS category "
         f"FROM (SELECT *, {k} AS k FROM {t}) GROUP BY StockCode ORDER BY _source, _row"),
        ("orders",
         f"SELECT min(_row) AS _row, _source, Invoice, min(\"Customer ID\") AS \"Customer ID\", "
         f"min(InvoiceDate) AS InvoiceDate, "
         f"CASE WHEN Invoice LIKE 'C%' THEN 'cancelled' WHEN Invoice LIKE 'A%' "
         f"THEN 'adjustment' ELSE 'completed' END AS status, "
         f"CASE WHEN bool_or({bad_line}) THEN 'bad line amount: ' || string_agg("
         f"'Quantity=' || coalesce(Quantity, '') || ' Price=' || coalesce(Price, ''), '; ') "
         f"FILTER (WHERE {bad_line}) ELSE CAST(sum({amount}) AS VARCHAR) END AS invoice_total "
         f"FROM {t} GROUP BY _source, Invoice ORDER BY _source, _row"),
        ("order_lines",
         f"SELECT _row, _source, Invoice, CAST(row_number() OVER (PARTITION BY _source, Invoice "
         f"ORDER BY _row) AS VARCHAR) AS line_no, StockCode, Quantity, Price "
         f"FROM {t} ORDER BY _source, _row"),
    ]


def ingest(wh, path: Path, *, secrets, progress: ProgressFn | None = None) -> list[IngestResult]:
    """Load the Online Retail II workbook into customers, products, orders and order_lines.

    Parameters and result as in ``Source.ingest``; tables in the order
    customers, products, orders, order_lines.
    """
    path = Path(path)
    SOURCE.check_file(path)

    def stage() -> None:
        stage_named(wh.con, path, _STAGED, sheets=("*",), progress=progress, required=_COLUMNS,
                    expected=f"an Online Retail II workbook ({SOURCE.path_hint})")

    feeds = [(table, sql, False) for table, sql in _feeds()]
    return run_feeds(wh, path, feeds, _MAPPINGS, source_name="online_retail",
                     staged_name=_STAGED, stage=stage, secrets=secrets, progress=progress)


SOURCE = Source(
    name="online_retail",
    description="UCI Online Retail II workbook (UK gift retailer, GBP): customers, products, "
                "invoices and their lines, cancellations",
    path_hint="online_retail_II.xlsx",
    ingest=ingest,
)
