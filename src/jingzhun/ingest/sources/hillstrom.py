"""Hillstrom's MineThatData e-mail test (2008): 64,000 customers in a randomised three-arm test.

PATH is the challenge's CSV (``Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_
2008.03.20.csv``: one header line, 64,000 rows, one per customer). The test becomes **one
campaign with a control arm**, so that evaluation compares each e-mail arm with the customers who
got no e-mail:

* ``campaigns`` -- one row, ``campaign_id`` ``hillstrom_2008``, channel ``email``; no goal and no
  dates (the e-mail date is not published; responses were tracked for the two weeks after it).
  ``rows_read`` is 1 (the campaign the file describes).
* ``customers`` -- one row per file row (the file has no customer id): ``customer_id`` =
  ``H`` + the 1-based data-row number, zero-padded to five digits (``H00001`` is the first data
  row), stable as long as the file is. ``attributes`` holds the pre-campaign fields as a JSON
  object: ``recency_months`` (integer, months since the last purchase), ``history_segment``
  (text band), ``history_amount`` (dollars spent in the past year), ``mens``, ``womens``,
  ``newbie`` (0/1 integers as in the file), ``zip_code`` (``Urban``, ``Surburban`` -- misspelt so
  in the data --, ``Rural``) and ``purchase_channel`` (the file's ``channel``: ``Web``,
  ``Phone``, ``Multichannel``).
* ``sends`` -- one row per customer: ``arm`` from ``segment`` (``Mens E-Mail`` -> ``mens_email``,
  ``Womens E-Mail`` -> ``womens_email``, ``No E-Mail`` -> ``control``); ``channel`` ``email``
  for the two e-mail arms and null for control (nothing was sent); ``cost`` 0 for an e-mail (its
  cost is not published; an e-mail's marginal cost is taken as nil) and null for control;
  ``sent_at`` null (not published). A segment outside those three is quarantined
  (``missing_required`` on ``arm``, the raw segment kept in the quarantined record).
* ``responses`` -- one ``visit`` row per customer with visit = 1 and one ``conversion`` row per
  customer with conversion = 1 (``revenue`` = spend, dollars); ``occurred_at`` null (the file
  says only "within two weeks"). ``rows_read`` counts these response events (visits +
  conversions), each ``_row`` the customer's data row.
"""

from __future__ import annotations

from pathlib import Path

from jingzhun.ingest.feeds import run_feeds, stage_named
from jingzhun.ingest.load import IngestResult
from jingzhun.ingest.read import ProgressFn
from jingzhun.ingest.sources import Source

CAMPAIGN_ID = "hillstrom_2008"
CAMPAIGN_NAME = "MineThatData e-mail test (Hillstrom, 2008): Mens vs Womens e-mail vs none"
#: the file's segment -> (arm, send channel)
ARMS = {
    "Mens E-Mail": ("mens_email", "email"),
    "Womens E-Mail": ("womens_email", "email"),
    "No E-Mail": ("control", None),
}
_STAGED = "_hillstrom"
_COLUMNS = ("recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie",
            "channel", "segment", "visit", "conversion", "spend")
_CUSTOMER_ID = "'H' || lpad(CAST(_row AS VARCHAR), 5, '0')"

_MAPPINGS = {
    "campaigns": {"columns": {"campaign_id": "campaign_id", "name": "name",
                              "channel": {"const": "email"}}},
    "customers": {"columns": {"customer_id": "customer_id", "attributes": "attributes"}},
    "sends": {"columns": {"campaign_id": {"const": CAMPAIGN_ID}, "customer_id": "customer_id",
                          "arm": "arm", "channel": "send_channel", "cost": "cost"}},
    "responses": {"columns": {"campaign_id": {"const": CAMPAIGN_ID},
                              "customer_id": "customer_id", "type": "type",
                              "revenue": "revenue"}},
}


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def _feeds() -> list[tuple[str, str]]:
    """(table, feed SQL over the staged table ``_hillstrom``) in load order."""
    arm = "CASE segment " + " ".join(
        f"WHEN {_lit(seg)} THEN {_lit(a)}" for seg, (a, _) in ARMS.items()) + " END"
    channel = "CASE segment " + " ".join(
        f"WHEN {_lit(seg)} THEN {_lit(c)}" for seg, (_, c) in ARMS.items()) + " END"
    attributes = (
        "CAST(json_object('recency_months', TRY_CAST(recency AS BIGINT), "
        "'history_segment', history_segment, "
        "'history_amount', TRY_CAST(history AS DECIMAL(18,2)), "
        "'mens', TRY_CAST(mens AS BIGINT), 'womens', TRY_CAST(womens AS BIGINT), "
        "'zip_code', zip_code, 'newbie', TRY_CAST(newbie AS BIGINT), "
        "'purchase_channel', channel) AS VARCHAR)")
    return [
        ("campaigns",
         f"SELECT 1 AS _row, any_value(_source) AS _source, {_lit(CAMPAIGN_ID)} AS campaign_id, "
         f"{_lit(CAMPAIGN_NAME)} AS name FROM {_STAGED}"),
        ("customers",
         f"SELECT _row, _source, {_CUSTOMER_ID} AS customer_id, {attributes} AS attributes "
         f"FROM {_STAGED}"),
        ("sends",
         f"SELECT _row, _source, {_CUSTOMER_ID} AS customer_id, segment, {arm} AS arm, "
         f"{channel} AS send_channel, CASE WHEN {channel} IS NOT NULL THEN '0' END AS cost "
         f"FROM {_STAGED}"),
        ("responses",
         f"SELECT _row, _source, {_CUSTOMER_ID} AS customer_id, 'visit' AS type, "
         f"NULL AS revenue FROM {_STAGED} WHERE trim(visit) = '1' "
         f"UNION ALL SELECT _row, _source, {_CUSTOMER_ID}, 'conversion', spend "
         f"FROM {_STAGED} WHERE trim(conversion) = '1' ORDER BY _row, type DESC"),
    ]


def ingest(wh, path: Path, *, secrets, progress: ProgressFn | None = None) -> list[IngestResult]:
    """Load the Hillstrom CSV into ``campaigns``, ``customers``, ``sends`` and ``responses``.

    Parameters and result as in ``Source.ingest``; tables in the order
    campaigns, customers, sends, responses.
    """
    path = Path(path)
    SOURCE.check_file(path)

    def stage() -> None:
        stage_named(wh.con, path, _STAGED, progress=progress, required=_COLUMNS,
                    expected=f"the Hillstrom file ({SOURCE.path_hint})")

    # per-customer feeds account for lines that could not be read
    feeds = [(table, sql, table in ("customers", "sends")) for table, sql in _feeds()]
    return run_feeds(wh, path, feeds, _MAPPINGS, source_name="hillstrom", staged_name=_STAGED,
                     stage=stage, secrets=secrets, progress=progress)


SOURCE = Source(
    name="hillstrom",
    description="Hillstrom's 2008 e-mail test: one campaign with mens/womens e-mail arms and a "
                "control arm; customers, sends, responses",
    path_hint="Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv",
    ingest=ingest,
    currency="USD",  # the spend column, in US dollars (Hillstrom 2008)
)
