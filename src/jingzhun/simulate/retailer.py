"""A plausible Chinese online retailer's raw export files, with the truth behind them.

``retailer(out_dir)`` writes one raw file per canonical table (as an export would look: GBK with
Chinese headers, a UTF-8 BOM, ``￥`` amounts, duplicates, bad rows), a source mapping per file, a
``manifest.json`` (load order) and the ground truth (``truth.json``, ``truth_customers.csv``).

The generative model, in weeks since the window start and in local time (Asia/Shanghai):

* **customers** sign up uniformly in the first third of the window; a share never buys, the
  others make their first purchase at sign-up (sign-up date = date of the first order);
* **purchases** follow BG/NBD (``_btyd.sample_bgnbd``), **order values** Gamma-Gamma in US dollars
  times ``usd_to_cny``: an order's ``total_amount`` (paid, after discount) is that draw;
  ``discount_amount`` (a coupon) comes on top, so the gross value is ``total + discount``;
* **order lines** (1-4) are drawn *after* the value: categories from the customer's Dirichlet
  preference, the first product priced at or above the value's share, sold at a markdown
  (``unit_price <= list_price``) so that ``sum(quantity * unit_price - discount) = total``
  (``discount`` on a line is its share of the order's coupon); a return is an extra line with
  negative quantity (``unit_price`` = net refund per unit); a returned single-line order is
  ``returned``;
* **cancelled orders** are *extra* orders placed shortly before a real repeat purchase, so
  dropping ``status = cancelled`` leaves exactly the modelled purchases;
* **campaign**: buyers with SMS marketing consent at the send are eligible; the arm is
  ``control`` when ``assignment_uniform(campaign_id, customer_id, salt) < control_share``; a
  customer's 14-day conversion probability is the BG/NBD baseline plus a true uplift by recency
  segment (``_btyd.sample_campaign_purchases``); conversions are orders in ``orders.csv``.

Files (UTF-8, LF, canonical headers, local times ``YYYY-MM-DD HH:MM:SS``, unless said) and their
dirt, all listed with row numbers in ``truth.json``: ``customers.csv`` GBK, CRLF, Chinese
headers, gender 男/女/M/F, sign-up dates in four formats, ~1% empty city (``missing: flag``);
``orders.csv`` UTF-8 with BOM, amounts sometimes ``1,234.00`` or ``￥88.00``, 3 exact duplicate
rows, 2 key conflicts (same ``order_id``, total + 10, after the original), 3 bad rows
(``bad_date``, ``missing_required`` order_id, ``bad_number`` total); ``order_lines.csv``,
``products.csv`` one exact duplicate each; ``events.csv.gz`` gzip, two exact duplicates;
``consents``, ``campaigns``, ``sends``, ``responses`` clean.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from jingzhun import contract
from jingzhun.errors import ConfigError
from jingzhun.simulate import _btyd
from jingzhun.simulate._btyd import (
    DEFAULT_UPLIFT,
    MINUTE_W,
    OFFER,
    RESPONSE_WINDOW_DAYS,
    SEGMENT_EDGES_WEEKS,
    SMS_COST_CNY,
    BGNBDParams,
    GammaGammaParams,
    money,
)

log = logging.getLogger(__name__)

TIMEZONE = "Asia/Shanghai"
LOAD_ORDER = ("products", "customers", "consents", "orders", "order_lines", "events",
              "campaigns", "sends", "responses")
_FMT = "%Y-%m-%d %H:%M:%S"

_CATEGORIES = (  # category, subcategories, fictional brands, typical list price (CNY)
    ("女装", ("连衣裙", "T恤", "半身裙", "风衣"), ("云裳", "素锦", "茉衫"), 189.0),
    ("男装", ("衬衫", "夹克", "休闲裤", "POLO衫"), ("劲松", "墨客", "北野"), 219.0),
    ("美妆", ("面霜", "口红", "精华液", "面膜"), ("花漾集", "玉容坊", "清研"), 149.0),
    ("食品", ("坚果", "茶叶", "零食礼包", "咖啡豆"), ("山野集", "茗香阁", "鲜语"), 59.0),
    ("母婴", ("纸尿裤", "奶粉", "婴儿湿巾", "积木玩具"), ("贝安", "小禾", "童悦"), 129.0),
    ("数码", ("蓝牙耳机", "充电宝", "智能手表", "数据线"), ("极光", "芯动", "乐拓"), 299.0),
    ("家居", ("四件套", "收纳箱", "香薰", "保温杯"), ("栖木", "素居", "暖巢"), 99.0),
    ("运动", ("跑步鞋", "瑜伽垫", "运动服", "哑铃"), ("疾风", "元力", "跃动"), 239.0),
)
_STYLES = ("经典款", "新款", "升级款", "简约款", "礼盒装", "轻享版", "家庭装", "限定款")
# Category taste by gender (female, male): Dirichlet concentrations, same order as _CATEGORIES.
_TASTE = np.array([[1.6, .2, 1.3, 1.0, .8, .4, 1.0, .5], [.2, 1.6, .3, 1.0, .5, 1.5, .8, 1.3]])
_CITIES = (("上海", "上海", 12), ("北京", "北京", 11), ("广州", "广东", 8), ("深圳", "广东", 8),
           ("杭州", "浙江", 7), ("成都", "四川", 7), ("武汉", "湖北", 5), ("南京", "江苏", 5),
           ("重庆", "重庆", 5), ("西安", "陕西", 4), ("苏州", "江苏", 4), ("长沙", "湖南", 4))
_ACQUISITION = (("organic", .35), ("search_ad", .2), ("wechat_ad", .2), ("douyin_ad", .15),
                ("referral", .1))
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
_GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚英华玉兰萍红鹏辉玲飞鑫波宇"
          "浩凯健俊帆旭宁晨欣怡佳雪琳婷倩颖梅琴")
_CONSENT_CHANNELS = (("sms", .7), ("email", .45), ("app_push", .6), ("wechat", .55))
CUSTOMER_HEADERS = {"customer_id": "客户编号", "name": "姓名", "gender": "性别",
                    "birth_year": "出生年份", "phone": "手机", "email": "邮箱", "city": "城市",
                    "province": "省份", "signup_at": "注册日期", "acquisition_channel": "渠道"}
SIGNUP_FORMATS = ("%Y/%m/%d", "%Y%m%d", "%Y年%m月%d日", "%Y-%m-%d")


@dataclass(frozen=True)
class RetailerData:
    """What ``retailer`` wrote.

    Attributes
    ----------
    out_dir : Path
    files, mappings : dict of str to Path
        Raw file and mapping file of each canonical table.
    manifest_path, truth_path, truth_customers_path : Path
    truth : dict
        The content of ``truth.json`` (parameters, campaign truth, dirt per file).
    truth_customers : pandas.DataFrame
        The content of ``truth_customers.csv``: one row per customer.
    """

    out_dir: Path
    files: dict[str, Path]
    mappings: dict[str, Path]
    manifest_path: Path
    truth_path: Path
    truth_customers_path: Path
    truth: dict = field(repr=False)
    truth_customers: pd.DataFrame = field(repr=False)


def retailer(out_dir: str | Path, *, n_customers: int = 2000, seed: int = 0,
             start: date = date(2024, 1, 1), end: date = date(2025, 6, 30),
             bgnbd: BGNBDParams | None = None, gamma_gamma: GammaGammaParams | None = None,
             usd_to_cny: float = 7.0, campaign_id: str = "C2025SPRING",
             control_share: float = 0.2, salt: str = "jingzhun-sim",
             uplift_by_segment: Mapping[str, float] | None = None,
             share_never_buy: float = 0.1) -> RetailerData:
    """Simulate a retailer and write its raw export files and ground truth into ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Folder to write into (created; existing files of the same names are replaced).
    n_customers : int, default 2000
        Customers in ``customers.csv`` (buyers and registered non-buyers); at least 20.
    seed : int, default 0
        Seed of ``numpy.random.default_rng``; the same seed gives byte-identical files.
    start, end : date, default 2024-01-01 and 2025-06-30
        First and last day (inclusive, local time) of the window; at least 120 days.
    bgnbd : BGNBDParams, optional
        Purchase process, time unit = week (default ``BGNBDParams()``: CDNOW estimates).
    gamma_gamma : GammaGammaParams, optional
        Spend process in US dollars (default ``GammaGammaParams()``: CDNOW estimates).
    usd_to_cny : float, default 7.0
        CNY per model dollar: ``total_amount`` in CNY = Gamma-Gamma value * ``usd_to_cny``.
    campaign_id : str, default "C2025SPRING"
        The past SMS retention campaign, sent 28 days before ``end`` at 10:00 local time.
    control_share : float, default 0.2
        Share of eligible customers held out as control, in (0, 1).
    salt : str
        Salt of the assignment hash (``assignment_uniform``).
    uplift_by_segment : mapping of str to float, optional
        True uplift in the 14-day conversion probability per recency segment (``active``,
        ``lapsing``, ``lapsed``); default ``DEFAULT_UPLIFT``.
    share_never_buy : float, default 0.1
        Share of customers who register but never order, in [0, 1).

    Returns
    -------
    RetailerData
    """
    uplift = dict(DEFAULT_UPLIFT if uplift_by_segment is None else uplift_by_segment)
    _check(n_customers, start, end, usd_to_cny, control_share, uplift, share_never_buy)
    bgnbd, gamma_gamma = bgnbd or BGNBDParams(), gamma_gamma or GammaGammaParams()
    _btyd.check_params(bgnbd)
    _btyd.check_params(gamma_gamma)
    cfg = dict(n_customers=int(n_customers), seed=int(seed), start=start, end=end, bgnbd=bgnbd,
               gamma_gamma=gamma_gamma, usd_to_cny=float(usd_to_cny), campaign_id=campaign_id,
               control_share=float(control_share), salt=salt, uplift=uplift,
               share_never_buy=float(share_never_buy))
    tables, truth, truth_customers = _simulate(cfg)
    data = _write(Path(out_dir), tables, truth, truth_customers)
    log.info("simulated retailer: %d customers, %d orders, %d events -> %s", n_customers,
             truth["counts"]["orders"], truth["counts"]["events"], data.out_dir)
    return data


def _check(n, start, end, usd_to_cny, control_share, uplift, share_never_buy) -> None:
    if int(n) != n or n < 20:
        raise ConfigError(f"n_customers must be an integer >= 20, got {n!r}")
    if (end - start).days < 120:
        raise ConfigError(f"the window must span at least 120 days, got {start} .. {end}")
    if not usd_to_cny > 0:
        raise ConfigError(f"usd_to_cny must be > 0, got {usd_to_cny!r}")
    if not 0 < control_share < 1:
        raise ConfigError(f"control_share must be in (0, 1), got {control_share!r}")
    if not 0 <= share_never_buy < 1:
        raise ConfigError(f"share_never_buy must be in [0, 1), got {share_never_buy!r}")
    if set(uplift) != set(SEGMENT_EDGES_WEEKS) or not all(0 <= v <= 1 for v in uplift.values()):
        raise ConfigError(f"uplift_by_segment needs a probability in [0, 1] for each of "
                          f"{sorted(SEGMENT_EDGES_WEEKS)}, got {uplift!r}")


# -- the simulation (pure: config in, string tables and truth out) ----------------------------
def _simulate(cfg: dict) -> tuple[dict[str, pd.DataFrame], dict, pd.DataFrame]:
    """Simulate every raw table (text columns, dirt included) and the truth; writes nothing."""
    rng = np.random.default_rng(cfg["seed"])
    r_cat, r_cust, r_buy, r_cons, r_camp, r_ord, r_ev, r_dirt = rng.spawn(8)
    start = np.datetime64(cfg["start"], "s")
    end_week = ((cfg["end"] - cfg["start"]).days + 1) / 7.0
    send_day = cfg["end"] - timedelta(days=28)
    send_week = ((send_day - cfg["start"]).days + 10 / 24) / 7.0
    products = _catalog(r_cat)
    cust = _customers(r_cust, cfg["n_customers"], end_week, cfg["share_never_buy"])
    buyers = np.flatnonzero(cust["is_buyer"])
    purch = _btyd.sample_bgnbd(r_buy, cfg["bgnbd"], cust["signup_week"][buyers], end_week)
    cust["nu"] = _btyd.sample_nu(r_buy, cfg["gamma_gamma"], cust["n"])
    consents, sms_ok = _consents(r_cons, cust, send_week)
    camp = _btyd.simulate_campaign(r_camp, cfg, cust, buyers, purch, sms_ok, send_week)
    orders = _btyd.simulate_orders(r_ord, cfg, cust, buyers, purch, camp)
    lines = _btyd.simulate_order_lines(r_ord, orders, products, cust)
    responses, unsubscribes = _btyd.simulate_responses(r_camp, cfg, camp, orders)
    consents = pd.concat([consents, unsubscribes], ignore_index=True)
    events = _btyd.simulate_events(r_ev, cust, orders, lines, products, end_week)
    tables = {
        "products": _products_table(products),
        "customers": _customers_table(cust, start),
        "consents": _timed(consents.sort_values(["changed_at", "customer_id"], kind="stable"),
                           start, "changed_at"),
        "orders": _orders_table(r_dirt, orders, cust, start),
        "order_lines": lines["table"],
        "events": _timed(events, start, "occurred_at"),
        "campaigns": _campaigns_table(cfg, send_day),
        "sends": _timed(camp["sends"], start, "sent_at"),
        "responses": _timed(responses, start, "occurred_at"),
    }
    n_events = len(tables["events"])
    tables, dirt = _add_dirt(r_dirt, tables, len(orders), cfg["start"].year)
    truth_customers = _truth_customers(cfg, cust, buyers, purch, camp, start, end_week)
    truth = _truth(cfg, dirt, orders, lines, truth_customers, send_day, end_week, n_events)
    return tables, truth, truth_customers


def _fmt_time(start: np.datetime64, week: np.ndarray) -> np.ndarray:
    """Local ``YYYY-MM-DD HH:MM:SS`` of times in weeks since ``start`` (floored to the second)."""
    seconds = np.floor(np.asarray(week, dtype=float) * 604800.0).astype("int64")
    text = np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="s")
    return np.char.replace(text, "T", " ") if text.size else text.astype(str)


def _timed(df: pd.DataFrame, start: np.datetime64, *columns: str) -> pd.DataFrame:
    """``df`` with its week-valued ``columns`` formatted as local timestamps, all as text."""
    df = df.reset_index(drop=True).copy()
    for col in columns:
        df[col] = _fmt_time(start, df[col].to_numpy())
    return df.astype(str)


def _catalog(rng: np.random.Generator, per_category: int = 25) -> pd.DataFrame:
    """~200 products: 25 per category, list prices log-normal around the category's level."""
    rows = []
    for c, (cat, subs, brands, level) in enumerate(_CATEGORIES):
        for _ in range(per_category):
            sub, brand, style = rng.choice(subs), rng.choice(brands), rng.choice(_STYLES)
            price = level * np.exp(rng.normal(0.0, 0.5))
            price = np.floor(price / 10) * 10 + 9 if price >= 100 else np.floor(price) + 0.9
            rows.append((c, cat, sub, brand, f"{brand} {sub} {style}", float(price)))
    df = pd.DataFrame(rows, columns=["cat", "category", "subcategory", "brand", "name",
                                     "list_price"])
    df["product_id"] = [f"P{i + 1:04d}" for i in range(len(df))]
    return df


def _customers(rng: np.random.Generator, n: int, end_week: float, share_never_buy: float) -> dict:
    """Customer attributes; index i is ``U{i+1:06d}``, ids in order of sign-up."""
    signup = _btyd.redraw_time_of_day(rng, np.sort(rng.random(n)) * end_week / 3.0)
    is_female = rng.random(n) < 0.62
    taste = rng.gamma(_TASTE[np.where(is_female, 0, 1)])
    channel_pref = rng.gamma(np.tile([2.2, 0.6, 1.2], (n, 1)))
    cities = rng.choice(len(_CITIES), n, p=_weights([c[2] for c in _CITIES]))
    given = np.array(list(_GIVEN))
    name = (np.array(list(_SURNAMES))[rng.integers(0, len(_SURNAMES), n)]
            + given[rng.integers(0, len(given), n)]
            + np.where(rng.random(n) < 0.6, given[rng.integers(0, len(given), n)], ""))
    return {
        "n": n, "id": np.array([f"U{i + 1:06d}" for i in range(n)]), "signup_week": signup,
        "is_buyer": rng.random(n) >= share_never_buy, "is_female": is_female,
        "gender_raw": np.where(rng.random(n) < 0.8, np.where(is_female, "女", "男"),
                               np.where(is_female, "F", "M")),
        "birth_year": np.clip(np.round(rng.normal(1992, 9, n)), 1958, 2006).astype(int),
        "city": np.array([_CITIES[i][0] for i in cities]),
        "province": np.array([_CITIES[i][1] for i in cities]),
        "is_city_missing": rng.random(n) < 0.01,
        "acquisition": rng.choice([a for a, _ in _ACQUISITION], n,
                                  p=_weights([w for _, w in _ACQUISITION])),
        "name": name, "phone": np.char.mod("12%09d", rng.integers(0, 10**9, n)),
        "email_tag": rng.integers(1000, 10000, n), "date_style": rng.integers(0, 4, n),
        "taste_cdf": np.cumsum(taste / taste.sum(1, keepdims=True), axis=1),
        "channel_cdf": np.cumsum(channel_pref / channel_pref.sum(1, keepdims=True), axis=1),
        "is_discount_prone": rng.random(n) < 0.3,
    }


def _weights(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


def _consents(rng: np.random.Generator, cust: dict, send_week: float):
    """Marketing consent log: one row per channel at sign-up (minutes before the first order),
    then 8% of grants withdrawn and 5% of refusals granted later, all before the send.

    Returns the log (``changed_at`` in weeks) and whether SMS consent holds at the send.
    """
    n, frames, sms_ok = cust["n"], [], None
    day_start = np.floor(cust["signup_week"] * 7) / 7  # the form is filled in on the same day
    t0 = np.maximum(cust["signup_week"] - rng.uniform(1, 30, n) * MINUTE_W, day_start)
    for ch, p_grant in _CONSENT_CHANNELS:
        granted = rng.random(n) < p_grant
        flips = rng.random(n) < np.where(granted, 0.08, 0.05)
        t1 = t0 + 1 / 7 + rng.random(n) * np.maximum(send_week - 2 / 7 - t0, 0.0)
        frames.append(pd.DataFrame({"customer_id": cust["id"], "channel": ch,
                                    "purpose": "marketing", "changed_at": t0,
                                    "granted": np.where(granted, "true", "false"),
                                    "source": "signup"}))
        src = np.where(granted, rng.choice(["unsubscribe_link", "app_settings",
                                            "customer_service"], n), "app_settings")
        frames.append(pd.DataFrame({"customer_id": cust["id"][flips], "channel": ch,
                                    "purpose": "marketing", "changed_at": t1[flips],
                                    "granted": np.where(granted[flips], "false", "true"),
                                    "source": src[flips]}))
        if ch == "sms":
            sms_ok = granted ^ flips
    return pd.concat(frames, ignore_index=True), sms_ok


# -- the raw tables as an export would write them ---------------------------------------------
def _products_table(products: pd.DataFrame) -> pd.DataFrame:
    cols = ["product_id", "name", "category", "subcategory", "brand"]
    return products[cols].assign(list_price=money(products["list_price"])).astype(str)


def _customers_table(cust: dict, start: np.datetime64) -> pd.DataFrame:
    """``customers.csv``: Chinese headers, gender as 男/女/M/F, sign-up dates in four formats."""
    days = start.astype("datetime64[D]") + np.floor(cust["signup_week"] * 7).astype(int)
    styles = (lambda d: f"{d.year}/{d.month}/{d.day}", lambda d: f"{d:%Y%m%d}",
              lambda d: f"{d.year}年{d.month}月{d.day}日", lambda d: f"{d:%Y-%m-%d}")
    signup = [styles[s](d) for d, s in zip(days.astype(object), cust["date_style"], strict=True)]
    raw = {"customer_id": cust["id"], "name": cust["name"], "gender": cust["gender_raw"],
           "birth_year": cust["birth_year"], "phone": cust["phone"],
           "email": [f"{i.lower()}.{t}@example.com" for i, t in zip(
               cust["id"], cust["email_tag"], strict=True)],
           "city": np.where(cust["is_city_missing"], "", cust["city"]),
           "province": cust["province"], "signup_at": signup,
           "acquisition_channel": cust["acquisition"]}
    return pd.DataFrame({CUSTOMER_HEADERS[k]: v for k, v in raw.items()}).astype(str)


def _orders_table(rng: np.random.Generator, orders: pd.DataFrame, cust: dict,
                  start: np.datetime64) -> pd.DataFrame:
    """``orders.csv``: amounts sometimes as ``1,234.00`` (>= 1000, half of them) or ``￥88.00``."""
    total = orders["total"].to_numpy()
    style = rng.random(total.size)
    text = np.where((total >= 1000) & (style < 0.5), [f"{x:,.2f}" for x in total],
                    np.where(style > 0.92, np.char.add("￥", money(total)), money(total)))
    return pd.DataFrame({
        "order_id": orders["order_id"], "customer_id": cust["id"][orders["cust"]],
        "ordered_at": _fmt_time(start, orders["week"].to_numpy()),
        "channel": orders["channel"], "status": orders["status"], "currency": "CNY",
        "total_amount": text, "discount_amount": money(orders["discount"]),
        "coupon_code": orders["coupon_code"]}).astype(str)


def _campaigns_table(cfg: dict, send_day: date) -> pd.DataFrame:
    ends = send_day + timedelta(days=RESPONSE_WINDOW_DAYS)
    return pd.DataFrame({"campaign_id": [cfg["campaign_id"]], "name": ["老客召回短信(满减券)"],
                         "goal": ["retain"], "channel": ["sms"],
                         "starts_at": [f"{send_day} 10:00:00"], "ends_at": [f"{ends} 10:00:00"]})


def _add_dirt(rng: np.random.Generator, tables: dict, n_orders: int, year: int):
    """Exact duplicates, key conflicts and bad rows as listed in ``truth.json``."""
    def conflict(row):  # the same order with another total: "keep first" keeps the original
        amount = float(row["total_amount"].replace("￥", "").replace(",", ""))
        return {"total_amount": f"{amount + 10:.2f}"}

    bad = [({"order_id": f"O{n_orders + 1:08d}", "ordered_at": f"{year}-13-45 12:00:00"},
            "ordered_at", "bad_date"),
           ({"order_id": ""}, "order_id", "missing_required"),
           ({"order_id": f"O{n_orders + 2:08d}", "total_amount": "abc"}, "total_amount",
            "bad_number")]
    plan = {"orders": dict(n_dup=3, n_conflict=2, conflict=conflict, bad=bad),
            "order_lines": dict(n_dup=1), "products": dict(n_dup=1), "events": dict(n_dup=2)}
    dirt = {}
    for name, df in tables.items():
        tables[name], dirt[name] = _dirty(rng, df, **plan.get(name, {}))
    city = tables["customers"][CUSTOMER_HEADERS["city"]].to_numpy()
    dirt["customers"]["flagged"] = [{"row_number": int(i) + 1, "column": "city",
                                     "flag": "city:missing"} for i in np.flatnonzero(city == "")]
    return tables, dirt


def _dirty(rng: np.random.Generator, df: pd.DataFrame, n_dup: int = 0, n_conflict: int = 0,
           conflict=None, bad=()) -> tuple[pd.DataFrame, dict]:
    """Insert copies of random rows: exact duplicates right after the original, conflicts
    (``conflict(row)`` overrides) 1-40 rows later, bad rows (overrides) next to their template."""
    n = len(df)
    if n < 2 * (n_dup + n_conflict + len(bad)):  # a tiny table (a few buyers) stays clean
        n_dup, n_conflict, bad = 0, 0, ()
    picks = rng.choice(n, size=n_dup + n_conflict + len(bad), replace=False)
    rows, pos, tags = [], [], []
    for j, i in enumerate(picks):
        row, at = df.iloc[i].copy(), i + 0.5
        if j < n_dup:
            tag = ("dup",)
        elif j < n_dup + n_conflict:
            row.update(pd.Series(conflict(row)))
            at, tag = min(i + int(rng.integers(1, 41)), n - 1) + 0.5, ("conflict",)
        else:
            overrides, col, code = bad[j - n_dup - n_conflict]
            row.update(pd.Series(overrides))
            tag = ("bad", col, code, row[col])
        rows.append(row)
        pos.append(at + j * 1e-6)
        tags.append(tag)
    order = np.argsort(np.concatenate([np.arange(n), pos]), kind="stable")
    out = pd.concat([df, pd.DataFrame(rows, columns=df.columns)], ignore_index=True)
    out = out.iloc[order].reset_index(drop=True)
    number = {j: int(r) + 1 for r, j in enumerate(order - n) if j >= 0}
    info = {"rows": len(out), "exact_duplicates": n_dup, "key_conflicts": n_conflict,
            "bad_rows": [{"row_number": number[j], "column": t[1], "reason_code": t[2],
                          "raw_value": t[3]} for j, t in enumerate(tags) if t[0] == "bad"],
            "flagged": [],
            "duplicate_rows": sorted(number[j] for j, t in enumerate(tags) if t[0] == "dup"),
            "conflict_rows": sorted(number[j] for j, t in enumerate(tags) if t[0] == "conflict")}
    info["bad_rows"].sort(key=lambda b: b["row_number"])
    info["rows_loaded"] = len(out) - n_dup - n_conflict - len(bad)
    return out, info


# -- truth ------------------------------------------------------------------------------------
def _truth_customers(cfg: dict, cust: dict, buyers: np.ndarray, purch, camp: dict,
                     start: np.datetime64, end_week: float) -> pd.DataFrame:
    """One row per customer: the true parameters and the campaign truth (empty when n/a).

    ``signup_at`` (local) is the first purchase for buyers; ``observed_weeks`` the time from it to
    the end of the window; ``n_repeat`` the BG/NBD repeat purchases in the window (campaign-caused
    and cancelled orders not counted); ``death_at`` the repeat purchase after which the customer
    dropped out (empty: alive at the end).
    """
    n = cust["n"]

    def per_buyer(values, dtype=None):  # empty for customers who never bought
        return pd.Series(values, index=buyers, dtype=dtype).reindex(range(n))

    death = purch.death_week
    death_at = np.where(np.isnan(death), "", _fmt_time(start, np.nan_to_num(death)))
    gg = cfg["gamma_gamma"]
    return pd.DataFrame({
        "customer_id": cust["id"], "is_buyer": cust["is_buyer"],
        "signup_at": _fmt_time(start, cust["signup_week"]),
        "observed_weeks": per_buyer(end_week - cust["signup_week"][buyers]),
        "lambda_per_week": camp["lam"], "p_dropout": camp["p"],
        "n_repeat": per_buyer(purch.n_repeat, "Int64"),
        "death_at": per_buyer(death_at, object),
        "is_alive_at_end": per_buyer(purch.is_alive_at_end, object),
        "gg_nu": np.where(cust["is_buyer"], cust["nu"], np.nan),
        "mean_order_value_cny": np.where(cust["is_buyer"],
                                         gg.p / cust["nu"] * cfg["usd_to_cny"], np.nan),
        "is_discount_prone": cust["is_discount_prone"], "is_eligible": camp["eligible"],
        "assignment_u": camp["u"], "arm": camp["arm"], "segment": camp["segment"],
        "recency_weeks_at_send": camp["recency"], "is_alive_at_send": camp["alive_at_send"],
        "baseline_conversion_prob": camp["baseline"], "true_uplift_prob": camp["tau"],
        "has_natural_purchase_in_window": camp["natural"],
        "has_campaign_order": camp["is_extra"]})


def _truth(cfg: dict, dirt: dict, orders: pd.DataFrame, lines: dict, tc: pd.DataFrame,
           send_day: date, end_week: float, n_events: int) -> dict:
    """``truth.json``: parameters, campaign truth per segment, counts and the dirt per file."""
    elig = tc[tc["is_eligible"]]
    segments = {}
    for name, edge in SEGMENT_EDGES_WEEKS.items():
        s = elig[elig["segment"] == name]
        segments[name] = {
            "max_recency_weeks": None if np.isinf(edge) else edge,
            "uplift_prob": cfg["uplift"][name], "n_eligible": len(s),
            "n_treatment": int((s["arm"] == "treatment").sum()),
            "n_control": int((s["arm"] == "control").sum()),
            "mean_baseline_prob": _num(s["baseline_conversion_prob"].mean()),
            "mean_true_uplift_prob": _num(s["true_uplift_prob"].mean())}
    files = {t: {"file": FILES[t][0], "encoding": FILES[t][1],
                 "line_terminator": FILES[t][2], **dirt[t]} for t in LOAD_ORDER}
    return {
        "generator": "jingzhun.simulate.retailer", "seed": cfg["seed"],
        "window": {"start": str(cfg["start"]), "end": str(cfg["end"]), "timezone": TIMEZONE,
                   "time_unit": "week", "length_weeks": end_week},
        "bgnbd": vars(cfg["bgnbd"]) | {"dropout": "after each repeat purchase (FHL 2005)"},
        "gamma_gamma": vars(cfg["gamma_gamma"]) | {"unit": "USD"},
        "currency": "CNY", "usd_to_cny": cfg["usd_to_cny"],
        "order_value": "orders.total_amount (CNY, paid after discount) = Gamma-Gamma value * "
                       "usd_to_cny; discount_amount comes on top",
        "campaign": {
            "campaign_id": cfg["campaign_id"], "goal": "retain", "channel": "sms",
            "send_at": f"{send_day} 10:00:00", "response_window_days": RESPONSE_WINDOW_DAYS,
            "control_share": cfg["control_share"], "salt": cfg["salt"],
            "assignment": "u = int(sha256(f'{campaign_id}|{customer_id}|{salt}')[:8], "
                          "big-endian) / 2**64 with the raw customer_id; control if u < "
                          "control_share",
            "eligibility": "at least one purchase before the send and SMS marketing consent "
                           "granted at the send (latest consent row)",
            "conversion": "any non-cancelled order within response_window_days of sent_at",
            "offer": OFFER, "sms_cost_cny": SMS_COST_CNY, "segments": segments,
            "n_eligible": len(elig), "n_campaign_orders": int(tc["has_campaign_order"].sum())},
        "counts": {"customers": len(tc), "buyers": int(tc["is_buyer"].sum()),
                   "products": dirt["products"]["rows_loaded"], "orders": len(orders),
                   "orders_by_status": orders["status"].value_counts().sort_index().to_dict(),
                   "orders_by_kind": orders["kind"].value_counts().sort_index().to_dict(),
                   "order_lines": len(lines["table"]), "return_lines": lines["n_returns"],
                   "events": n_events},
        "files": files}


def _num(x: float) -> float | None:
    return None if pd.isna(x) else float(x)


# -- the edge: files --------------------------------------------------------------------------
#: table -> (file name, encoding, line terminator)
FILES = {t: (f"{t}.csv", "utf-8", "\n") for t in LOAD_ORDER} | {
    "customers": ("customers.csv", "gbk", "\r\n"),
    "orders": ("orders.csv", "utf-8-sig", "\n"),
    "events": ("events.csv.gz", "utf-8", "\n")}


def _mapping(table: str) -> dict:
    """The source mapping of ``table``'s file (``ingest/mapping.py`` format)."""
    mapping: dict = {"table": table, "timezone": TIMEZONE}
    if table == "customers":
        h = CUSTOMER_HEADERS
        mapping["file"] = {"encoding": "auto", "delimiter": "auto", "header": True}
        mapping["columns"] = {
            "customer_id": h["customer_id"], "name": h["name"],
            "gender": {"from": h["gender"], "values": {"男": "male", "女": "female",
                                                        "M": "male", "F": "female"}},
            "birth_year": h["birth_year"], "phone": h["phone"], "email": h["email"],
            "city": {"from": h["city"], "missing": "flag"}, "province": h["province"],
            "signup_at": {"from": h["signup_at"], "formats": list(SIGNUP_FORMATS)},
            "acquisition_channel": h["acquisition_channel"], "country": {"const": "CN"}}
    else:
        stamps = [c.name for c in contract.TABLES[table].columns if c.kind == "timestamp"]
        mapping["columns"] = {c: {"from": c, "formats": [_FMT]} for c in stamps}
    mapping["dedupe"] = {"keep": "first"}
    return mapping


def _write(out_dir: Path, tables: dict, truth: dict, truth_customers: pd.DataFrame
           ) -> RetailerData:
    """Write raw files, mappings, manifest and truth; the only function touching the disk."""
    (out_dir / "mappings").mkdir(parents=True, exist_ok=True)
    files, mappings, manifest = {}, {}, []
    for table in LOAD_ORDER:
        name, encoding, eol = FILES[table]
        data = tables[table].to_csv(index=False, lineterminator=eol).encode(encoding)
        if name.endswith(".gz"):
            buf = io.BytesIO()
            with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0,
                               compresslevel=6) as gz:
                gz.write(data)
            data = buf.getvalue()
        files[table] = out_dir / name
        files[table].write_bytes(data)
        mappings[table] = out_dir / "mappings" / f"{table}.yaml"
        mappings[table].write_text(
            "# written by jingzhun.simulate.retailer; local times are Asia/Shanghai\n"
            + yaml.safe_dump(_mapping(table), allow_unicode=True, sort_keys=False), "utf-8")
        manifest.append({"table": table, "file": name, "mapping": f"mappings/{table}.yaml"})
    paths = {k: out_dir / v for k, v in (("manifest", "manifest.json"), ("truth", "truth.json"),
                                         ("customers", "truth_customers.csv"))}
    paths["manifest"].write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                 "utf-8")
    paths["truth"].write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", "utf-8")
    paths["customers"].write_bytes(truth_customers.to_csv(index=False, lineterminator="\n")
                                   .encode("utf-8"))
    return RetailerData(out_dir, files, mappings, paths["manifest"], paths["truth"],
                        paths["customers"], truth, truth_customers)
