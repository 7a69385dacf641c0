"""CDNOW (Fader, Hardie & Lee 2005): one cohort of 23,570 compact-disc buyers, 1997-01 .. 1998-06.

PATH is ``CDNOW_master.txt`` (whitespace-separated, header ``customer_id date number_of_cds
dollar_value``, 69,659 purchases) or ``CDNOW_sample.txt`` (the papers' 1/10 sample: no header,
five columns ``original id, sample id, date, number of CDs, dollars``, 6,919 purchases); the form
is told from the first line. Each file feeds three canonical tables:

* ``orders`` -- one row per purchase line of the file. ``order_id`` =
  ``<customer>-<YYYYMMDD>-<n>``, ``n`` the purchase's number among that customer's purchases of
  that day in file order (2,068 lines of the master have ``n`` > 1). 255 of the master's lines
  repeat an earlier line exactly (same customer, day, CDs and dollars; 215 distinct lines, one of
  them 9 times): they are separate real purchases (the papers count them), so exact repeats are
  kept (``exact_duplicates: keep``) and the sequence number keeps their keys apart.
  ``ordered_at`` = the day at 00:00 (the data have dates only; the zone is not published, so the
  day is stored as it is, read as UTC), ``total_amount`` = dollar_value (USD), status
  ``completed``. The data set names no channel.
* ``order_lines`` -- one line per order (``line_no`` 1, product ``cd``: the data set does not say
  which CDs), ``quantity`` = number_of_cds, ``unit_price`` = dollar_value / number_of_cds rounded
  to 4 decimals (dollars per CD; so ``quantity * unit_price`` can differ from the order's
  ``total_amount`` by rounding, at most 0.00005 dollars per CD -- the order total is the exact
  figure). A line with 0 CDs (none in the published files) gets the whole dollar value as its
  unit price, so that no amount is lost; the master has 80 purchases of 0.00 dollars (1+ CDs), which
  load with unit price 0.
* ``customers`` -- one row per distinct customer id (``rows_read`` counts customers);
  ``signup_at`` = the customer's first purchase day in the file: the cohort was selected on its
  first-ever purchase at CDNOW, so that date is the acquisition date (in the sample file, too).

The sample's customer ids are the original ids, so a sample purchase has the same ``order_id``
and content as in the master (loading both files counts the sample's rows as duplicates). The
sample id (a 1..2,357 renumbering used in the papers) is not loaded.

Lines that cannot be split into the expected columns are quarantined (``malformed_row``) in the
``orders`` and ``order_lines`` feeds, so both account for every line of the file.
"""

from __future__ import annotations

from pathlib import Path

from jingzhun.errors import InputError
from jingzhun.ingest.feeds import run_feeds, stage_named
from jingzhun.ingest.load import IngestResult
from jingzhun.ingest.read import WHITESPACE, ProgressFn
from jingzhun.ingest.sources import Source

_STAGED = "_cdnow"
#: column names of the two file forms (the master's header names; the sample has no header)
_MASTER_COLUMNS = ("customer_id", "date", "number_of_cds", "dollar_value")
_SAMPLE_COLUMNS = ("customer_id", "sample_id", "date", "number_of_cds", "dollar_value")
_KEEP_REPEATS = {"exact_duplicates": "keep"}  # equal lines are separate real purchases

_ORDER_ID = {"concat": ["customer_id", "date"], "sequence": True}

_MAPPINGS = {
    "customers": {
        "columns": {
            "customer_id": "customer_id",
            "signup_at": {"from": "first_purchase_date", "formats": ["%Y%m%d"]},
        },
    },
    "orders": {
        "columns": {
            "order_id": _ORDER_ID,
            "customer_id": "customer_id",
            "ordered_at": {"from": "date", "formats": ["%Y%m%d"]},
            "status": {"const": "completed"},
            "currency": {"const": "USD"},
            "total_amount": "dollar_value",
        },
        "dedupe": _KEEP_REPEATS,
    },
    "order_lines": {
        "columns": {
            "order_id": _ORDER_ID,
            "line_no": {"const": 1},
            "product_id": {"const": "cd"},
            "quantity": "number_of_cds",
            "unit_price": "unit_price_dollars",
        },
        "dedupe": _KEEP_REPEATS,
    },
}


def _form(path: Path) -> tuple[bool, tuple[str, ...]]:
    """(has a header line, column names) of a CDNOW file, told from its first line."""
    SOURCE.check_file(path)
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = next((line for line in fh if line.strip()), "")
    tokens = first.split()
    if tokens and tokens[0].lower() == "customer_id":
        if len(tokens) != len(_MASTER_COLUMNS):
            raise InputError(f"{path}, line 1: header {first.strip()!r} is not CDNOW's "
                             f"({' '.join(_MASTER_COLUMNS)})")
        return True, _MASTER_COLUMNS
    if len(tokens) == len(_SAMPLE_COLUMNS):
        return False, _SAMPLE_COLUMNS
    if len(tokens) == len(_MASTER_COLUMNS):
        return False, _MASTER_COLUMNS
    raise InputError(
        f"{path}, line 1: {len(tokens)} fields ({first.strip()[:80]!r}); a CDNOW file has 4 "
        f"(customer_id date number_of_cds dollar_value) or 5 (the sample: original id, sample "
        f"id, date, number_of_cds, dollar_value)",
        hint="PATH is CDNOW_master.txt or CDNOW_sample.txt")


def _feeds() -> list[tuple[str, str, bool]]:
    """(table, feed SQL over the named view ``_cdnow_v``, quarantines malformed lines)."""
    unit_price = (
        "CASE WHEN TRY_CAST(number_of_cds AS BIGINT) > 0 "
        "AND TRY_CAST(dollar_value AS DECIMAL(18,4)) IS NOT NULL THEN CAST(round("
        "CAST(dollar_value AS DECIMAL(18,4)) / CAST(number_of_cds AS BIGINT), 4) AS VARCHAR) "
        "ELSE dollar_value END")  # 0 CDs or a bad number: the raw dollars (see module doc)
    return [
        ("customers",
         "SELECT min(_row) AS _row, any_value(_source) AS _source, customer_id, "
         "min(date) AS first_purchase_date FROM _cdnow_v GROUP BY customer_id", False),
        ("orders",
         "SELECT _row, _source, customer_id, date, dollar_value FROM _cdnow_v", True),
        ("order_lines",
         f"SELECT _row, _source, customer_id, date, number_of_cds, "
         f"{unit_price} AS unit_price_dollars FROM _cdnow_v", True),
    ]


def ingest(wh, path: Path, *, secrets, progress: ProgressFn | None = None) -> list[IngestResult]:
    """Load a CDNOW file into ``customers``, ``orders`` and ``order_lines``.

    Parameters and result as in ``Source.ingest``; tables in the order
    customers, orders, order_lines.
    """
    path = Path(path)
    header, columns = _form(path)

    def stage() -> None:
        stage_named(wh.con, path, _STAGED, delimiter=WHITESPACE, header=header, progress=progress)
        raw = [r[0] for r in wh.con.execute(f"DESCRIBE {_STAGED}").fetchall()][2:]
        names = ", ".join(f'"{r}" AS {c}' for r, c in zip(raw, columns, strict=True))
        wh.con.execute(f"CREATE OR REPLACE TEMP VIEW {_STAGED}_v AS "
                       f"SELECT _row, _source, {names} FROM {_STAGED}")

    return run_feeds(wh, path, _feeds(), _MAPPINGS, source_name="cdnow", staged_name=_STAGED,
                     stage=stage, secrets=secrets, progress=progress)


SOURCE = Source(
    name="cdnow",
    description="CDNOW compact-disc purchases 1997-98 (Fader, Hardie & Lee): orders, lines, "
                "customers",
    path_hint="CDNOW_master.txt (or CDNOW_sample.txt)",
    ingest=ingest,
)
