"""The purchase process of the simulated retailer: who buys when (BG/NBD), for how much
(Gamma-Gamma), what each order holds, and how a campaign changes it (assignment, true uplift,
responses).

Time is in **weeks** since the start of the observation window throughout (local time,
Asia/Shanghai); the spend model is in the papers' **US dollars**, orders in CNY (the caller gives
the factor). Every function takes a ``numpy.random.Generator`` and is otherwise pure.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: using iso-value curves for
customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from jingzhun.errors import ConfigError
from jingzhun.plan import control

#: Recency segments at the send: a customer is in the first segment whose edge (weeks since
#: the last purchase) is not exceeded.
SEGMENT_EDGES_WEEKS = {"active": 8.0, "lapsing": 26.0, "lapsed": np.inf}
#: True uplift in the 14-day conversion probability per segment (absolute, not relative).
DEFAULT_UPLIFT = {"active": 0.0, "lapsing": 0.08, "lapsed": 0.03}
RESPONSE_WINDOW_DAYS = 14
SMS_COST_CNY = 0.05
#: The campaign's offer: a coupon worth ``discount_cny`` used on a treated customer's order in
#: the response window with probability ``use_prob``.
OFFER = {"offer_id": "RET30", "coupon_code": "RET30", "discount_cny": 30.0, "use_prob": 0.6}
#: Coupons of ordinary orders and their value (CNY).
COUPON_VALUES = {"NEW10": 10.0, "SPRING20": 20.0, "DOUBLE11": 30.0, "VIP50": 50.0,
                 "MEMBER5": 5.0, OFFER["coupon_code"]: OFFER["discount_cny"], "": 0.0}
MINUTE_W = 1.0 / (7 * 24 * 60)  # one minute in weeks
ORDER_CHANNELS = ("app", "web", "mini_program")
#: Relative weight of each local hour of the day (0..23) for a purchase: quiet at night, busy
#: at lunch and in the evening, as on Chinese retail sites.
HOUR_WEIGHTS = np.array([2, 1, 1, .5, .5, .5, 1, 2, 4, 5, 6, 6,
                         7, 6, 5, 5, 5, 6, 7, 8, 10, 11, 9, 5])


@dataclass(frozen=True)
class BGNBDParams:
    """Population parameters of the BG/NBD model (Fader, Hardie & Lee 2005), time unit = week.

    ``lambda ~ Gamma(shape=r, rate=alpha)`` is a customer's purchase rate while alive (per week);
    ``p ~ Beta(a, b)`` the probability of dropping out right after each repeat purchase. The
    defaults are the published estimates on the CDNOW sample.
    """

    r: float = 0.243
    alpha: float = 4.414
    a: float = 0.793
    b: float = 2.426


@dataclass(frozen=True)
class GammaGammaParams:
    """Population parameters of the Gamma-Gamma spend model (Fader, Hardie & Lee 2005, JMR).

    ``nu ~ Gamma(shape=q, rate=gamma)`` per customer; each transaction's value
    ``~ Gamma(shape=p, rate=nu)`` in US dollars (mean ``p / nu``). Defaults: CDNOW estimates.
    """

    p: float = 6.25
    q: float = 3.74
    gamma: float = 15.44


@dataclass(frozen=True)
class Purchases:
    """Repeat purchases of ``n`` customers in their observation windows.

    Attributes
    ----------
    lambda_per_week, p_dropout : ndarray of shape (n,)
        Each customer's true purchase rate (per week) and dropout probability.
    n_repeat : ndarray of int, shape (n,)
        Repeat purchases in the window (the first purchase not counted).
    death_week : ndarray of shape (n,)
        Time of the repeat purchase after which the customer dropped out; NaN when still alive at
        the end of the window.
    customer, week : ndarray of shape (m,)
        Customer index and time (weeks) of every repeat purchase, sorted by customer then time.
    """

    lambda_per_week: np.ndarray
    p_dropout: np.ndarray
    n_repeat: np.ndarray
    death_week: np.ndarray
    customer: np.ndarray
    week: np.ndarray

    @property
    def is_alive_at_end(self) -> np.ndarray:
        """Whether each customer is still alive at the end of the window, shape (n,)."""
        return np.isnan(self.death_week)

    def is_alive_at(self, week: float | np.ndarray) -> np.ndarray:
        """Whether each customer is alive at time ``week`` (weeks; scalar or shape (n,))."""
        return np.isnan(self.death_week) | (self.death_week > week)


def check_params(params: BGNBDParams | GammaGammaParams) -> None:
    """Raise ``ConfigError`` naming the parameter when one is not a finite positive number."""
    for name, value in vars(params).items():
        if not (np.isfinite(value) and value > 0):
            raise ConfigError(f"{type(params).__name__}.{name} must be > 0, got {value!r}")


def redraw_time_of_day(rng: np.random.Generator, week: np.ndarray) -> np.ndarray:
    """Keep each time's day but draw its time of day from ``HOUR_WEIGHTS`` (weeks in, weeks out)."""
    day = np.floor(week * 7.0)
    hour = rng.choice(24, size=week.shape, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    seconds = hour * 3600.0 + rng.random(week.shape) * 3600.0
    return (day + seconds / 86400.0) / 7.0


def sample_bgnbd(rng: np.random.Generator, params: BGNBDParams, first_week: np.ndarray,
                 end_week: float) -> Purchases:
    """Draw each customer's rate, dropout probability and repeat purchases (BG/NBD).

    As in the model's likelihood (FHL 2005, eq. 3), a customer can drop out only right after a
    *repeat* purchase, so the number of repeat purchases before dropout is Geometric(p) on
    {1, 2, ...}; while alive, purchases follow a Poisson process of rate lambda. Given their
    number in ``(first_week, end_week]``, Poisson arrival times are sorted uniforms, which makes
    the draw vectorised. The time of day of each purchase is then redrawn within its day
    (``redraw_time_of_day``) unless that would put it before the first purchase.

    Parameters
    ----------
    rng : numpy.random.Generator
    params : BGNBDParams
    first_week : ndarray of shape (n,)
        Time of each customer's first purchase, weeks since the window start.
    end_week : float
        End of the window (weeks); a day boundary, so redrawing a time of day keeps it inside.

    Returns
    -------
    Purchases
    """
    n = first_week.shape[0]
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = np.clip(rng.beta(params.a, params.b, n), 1e-12, 1.0)
    length = end_week - first_week
    n_arrivals = rng.poisson(lam * length)
    n_before_dropout = rng.geometric(p)
    n_repeat = np.minimum(n_arrivals, n_before_dropout)

    cust = np.repeat(np.arange(n), n_arrivals)
    u = rng.random(cust.size)
    order = np.lexsort((u, cust))
    cust, u = cust[order], u[order]
    rank = np.arange(cust.size) - np.repeat(np.cumsum(n_arrivals) - n_arrivals, n_arrivals)
    keep = rank < n_repeat[cust]
    cust, week = cust[keep], first_week[cust[keep]] + u[keep] * length[cust[keep]]
    redrawn = redraw_time_of_day(rng, week)
    week = np.where(redrawn > first_week[cust], redrawn, week)
    order = np.lexsort((week, cust))
    cust, week = cust[order], week[order]

    death_week = np.full(n, np.nan)
    dropped = n_before_dropout <= n_arrivals
    last = np.cumsum(n_repeat) - 1
    death_week[dropped] = week[last[dropped]]
    return Purchases(lam, p, n_repeat, death_week, cust, week)


def sample_nu(rng: np.random.Generator, params: GammaGammaParams, n: int) -> np.ndarray:
    """Each customer's Gamma-Gamma ``nu ~ Gamma(q, rate=gamma)`` (per US dollar), shape (n,)."""
    return rng.gamma(params.q, 1.0 / params.gamma, n)


def sample_order_values(rng: np.random.Generator, params: GammaGammaParams,
                        nu: np.ndarray) -> np.ndarray:
    """One transaction value per entry of ``nu``: ``Gamma(p, rate=nu)``, US dollars."""
    return rng.gamma(params.p, 1.0 / nu)


def baseline_conversion_prob(lambda_per_week: np.ndarray, is_alive: np.ndarray,
                             window_weeks: float) -> np.ndarray:
    """P(at least one purchase within ``window_weeks``) without a campaign.

    Dropout happens only right after a purchase, so a customer alive at the start of the window
    buys in it with probability ``1 - exp(-lambda * window_weeks)``; a dead one never does.
    """
    return np.where(is_alive, -np.expm1(-lambda_per_week * window_weeks), 0.0)


def sample_campaign_purchases(rng: np.random.Generator, baseline_prob: np.ndarray,
                              uplift_prob: np.ndarray, has_natural: np.ndarray,
                              is_treated: np.ndarray, window_weeks: float,
                              mean_delay_weeks: float = 3.0 / 7.0) -> tuple[np.ndarray, np.ndarray]:
    """Draw who buys *because of* the campaign, and when.

    The conversion probability of a treated customer is ``baseline + uplift``: those who buy
    anyway (``has_natural``) need no extra purchase; of the others, a share
    ``uplift / (1 - baseline)`` makes one extra purchase, so the rise in the probability of any
    purchase in the window is exactly ``uplift`` (the caller keeps ``uplift <= 1 - baseline``).
    The extra purchase is a one-off: it does not change the customer's BG/NBD process.

    Parameters
    ----------
    baseline_prob, uplift_prob : ndarray of shape (n,)
        Probabilities in [0, 1] of a purchase in the window, without the campaign and added by it.
    has_natural, is_treated : ndarray of bool, shape (n,)
    window_weeks : float
        Length of the response window (weeks).
    mean_delay_weeks : float
        Mean of the exponential delay from the send to the extra purchase, truncated to the window.

    Returns
    -------
    is_extra : ndarray of bool, shape (n,)
    delay_weeks : ndarray of shape (n,)
        Delay after the send (weeks); meaningful where ``is_extra``.
    """
    room = np.clip(1.0 - baseline_prob, 1e-12, None)
    share = np.clip(uplift_prob / room, 0.0, 1.0)
    u = rng.random(baseline_prob.shape)
    is_extra = is_treated & ~has_natural & (u < share)
    v = rng.random(baseline_prob.shape)
    tail = -np.expm1(-window_weeks / mean_delay_weeks)
    delay = -mean_delay_weeks * np.log1p(-v * tail)
    return is_extra, np.minimum(delay, window_weeks * (1.0 - 1e-9))


def assignment_uniform(campaign_id: str, customer_id: str, salt: str) -> float:
    """The campaign assignment draw in [0, 1) of one customer: the planner's hash
    (``plan.control.assignment_uniform``, DESIGN.md §4), so that the simulated campaign assigns
    arms exactly as a plan would. Here ``customer_id`` is the raw id of the files (``U000123``),
    not the warehouse pseudonym."""
    return float(control.assignment_uniform(campaign_id, [customer_id], salt)[0])


def money(x: np.ndarray) -> np.ndarray:
    """Amounts as text with two decimals (``88.00``)."""
    return np.char.mod("%.2f", np.round(np.asarray(x, dtype=float), 2))


def pick(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse-CDF draw: index of the first ``cdf[i, k] > u[i]``."""
    return np.minimum((cdf < u[:, None]).sum(axis=1), cdf.shape[1] - 1)


def simulate_campaign(rng: np.random.Generator, cfg: dict, cust: dict, buyers: np.ndarray,
                      purch: Purchases, sms_ok: np.ndarray, send_week: float) -> dict:
    """The campaign's truth per customer (arrays of shape (n,)) and its ``sends`` table.

    Eligible: a buyer whose first purchase precedes the send, with SMS marketing consent at the
    send (``sms_ok``). Arm by ``assignment_uniform``; segment by weeks since the last purchase
    before the customer's send (``SEGMENT_EDGES_WEEKS``); true uplift = the segment's uplift,
    capped at ``1 - baseline``. Control rows of ``sends`` carry the time the SMS would have gone
    out and cost 0. Times in weeks.
    """
    n, window = cust["n"], RESPONSE_WINDOW_DAYS / 7.0
    sent = send_week + rng.random(n) * 2 / (7 * 24)  # the SMS batch takes two hours
    lam, p, alive = np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool)
    lam[buyers], p[buyers] = purch.lambda_per_week, purch.p_dropout
    alive[buyers] = purch.is_alive_at(sent[buyers])
    pc = buyers[purch.customer]
    last = np.where(cust["is_buyer"], cust["signup_week"], np.nan)
    before = purch.week < sent[pc]
    np.fmax.at(last, pc[before], purch.week[before])
    recency = sent - last
    names = list(SEGMENT_EDGES_WEEKS)
    seg_ix = np.searchsorted(list(SEGMENT_EDGES_WEEKS.values()), np.nan_to_num(recency))
    segment = np.where(cust["is_buyer"], np.array(names)[np.minimum(seg_ix, len(names) - 1)], "")
    eligible = cust["is_buyer"] & sms_ok & (last < sent)
    u = control.assignment_uniform(cfg["campaign_id"], cust["id"], cfg["salt"])
    arm = np.where(eligible, np.where(u < cfg["control_share"], "control", "treatment"), "")
    base = np.where(cust["is_buyer"],
                    baseline_conversion_prob(np.nan_to_num(lam), alive, window), np.nan)
    seg_uplift = np.array([cfg["uplift"].get(s, 0.0) for s in segment])
    tau = np.where(cust["is_buyer"], np.minimum(seg_uplift, 1.0 - np.nan_to_num(base)), np.nan)
    in_win = (purch.week >= sent[pc]) & (purch.week < sent[pc] + window)
    natural = np.zeros(n, bool)
    natural[pc[in_win]] = True
    is_extra, delay = sample_campaign_purchases(
        rng, np.nan_to_num(base), np.nan_to_num(tau), natural, arm == "treatment", window)
    idx = np.flatnonzero(eligible)
    treated = arm[idx] == "treatment"
    sends = pd.DataFrame({
        "campaign_id": cfg["campaign_id"], "customer_id": cust["id"][idx], "arm": arm[idx],
        "channel": "sms", "offer_id": np.where(treated, OFFER["offer_id"], ""),
        "content_id": np.where(treated, "SMS-RETAIN-A", ""), "sent_at": sent[idx],
        "cost": np.where(treated, f"{SMS_COST_CNY:.2f}", "0.00")})
    return {"sent": sent, "window": window, "lam": lam, "p": p, "alive_at_send": alive,
            "recency": recency, "segment": segment, "eligible": eligible, "u": u, "arm": arm,
            "baseline": base, "tau": tau, "natural": natural, "is_extra": is_extra,
            "extra_week": sent + delay, "sends": sends, "ids": cust["id"]}


def simulate_orders(rng: np.random.Generator, cfg: dict, cust: dict, buyers: np.ndarray,
                    purch: Purchases, camp: dict) -> pd.DataFrame:
    """Every order, sorted by time, ids ``O00000001`` ... in that order.

    ``kind`` is ``first``, ``repeat`` (BG/NBD), ``campaign`` (caused by the campaign) or
    ``cancelled`` (an extra order cancelled 5-120 minutes before a repeat purchase).
    ``total`` (CNY, paid) is the Gamma-Gamma value; ``discount`` (CNY) is the coupon's value:
    ``NEW10`` on 35% of first orders, otherwise a seasonal/threshold code at the customer's rate
    (50% for discount-prone customers, 8% for others), and the campaign's offer on 60% of a
    treated customer's orders in the response window.
    """
    pc = buyers[purch.customer]
    extra = np.flatnonzero(camp["is_extra"])
    cancel = rng.random(pc.size) < 0.02
    c = np.concatenate([buyers, pc, extra, pc[cancel]])
    cancelled_week = purch.week[cancel] - rng.uniform(5, 120, cancel.sum()) * MINUTE_W
    week = np.concatenate([cust["signup_week"][buyers], purch.week, camp["extra_week"][extra],
                           np.maximum(cancelled_week, 0.0)])
    kind = np.repeat(["first", "repeat", "campaign", "cancelled"],
                     [buyers.size, pc.size, extra.size, cancel.sum()])
    order = np.lexsort((c, week))
    c, week, kind = c[order], week[order], kind[order]
    total = np.round(sample_order_values(rng, cfg["gamma_gamma"], cust["nu"][c])
                     * cfg["usd_to_cny"], 2)
    local = np.datetime64(cfg["start"], "s") + (week * 604800).astype("int64").astype(
        "timedelta64[s]")
    month = local.astype("datetime64[M]").astype(int) % 12 + 1
    day = (local.astype("datetime64[D]") - local.astype("datetime64[M]")).astype(int) + 1
    code = np.where((month >= 3) & (month <= 5), "SPRING20",
                    np.where((month == 11) & (day <= 11), "DOUBLE11",
                             np.where(total >= 250, "VIP50", "MEMBER5")))
    rate = np.where(cust["is_discount_prone"][c], 0.5, 0.08)
    code = np.where(kind == "first", "NEW10", code)
    rate = np.where(kind == "first", 0.35, rate)
    used = (rng.random(c.size) < rate) & (kind != "cancelled")
    in_win = ((camp["arm"][c] == "treatment") & (week >= camp["sent"][c])
              & (week < camp["sent"][c] + camp["window"]) & (kind != "cancelled"))
    offer = in_win & (rng.random(c.size) < OFFER["use_prob"])
    code = np.where(offer, OFFER["coupon_code"], np.where(used, code, ""))
    discount = np.array([COUPON_VALUES[k] for k in code])
    channel = np.array(ORDER_CHANNELS)[pick(cust["channel_cdf"][c], rng.random(c.size))]
    return pd.DataFrame({
        "order_id": [f"O{i + 1:08d}" for i in range(c.size)], "cust": c, "week": week,
        "kind": kind, "channel": channel, "total": total, "discount": discount,
        "coupon_code": code,
        "status": np.where(kind == "cancelled", "cancelled", "completed").astype(object)})


def simulate_order_lines(rng: np.random.Generator, orders: pd.DataFrame, products: pd.DataFrame,
                         cust: dict) -> dict:
    """1-4 lines per order whose amounts add up to the order's value; ~4% returns.

    ``sum(quantity * unit_price - discount)`` over an order's lines equals its ``total`` to the
    fen when a line has quantity 1 (most orders), else to within 0.5 fen per unit.

    Sets ``orders.status`` to ``returned`` for returned single-line orders.
    """
    gross = (orders["total"] + orders["discount"]).to_numpy()
    n_lines = 1 + rng.binomial(3, np.clip(gross / 1000.0, 0.05, 0.6))
    o = np.repeat(np.arange(len(orders)), n_lines)
    cat = pick(cust["taste_cdf"][orders["cust"].to_numpy()[o]], rng.random(o.size))
    qty = rng.choice([1, 2, 3], o.size, p=[0.8, 0.15, 0.05])
    # aim a little above the value's share, take the first product at or above it, and sell at
    # a markdown (unit price = list price * scale <= list price); buy more when all are cheaper
    target = gross[o] / n_lines[o] / qty * np.exp(rng.uniform(0.0, 0.2, o.size))
    prod = np.empty(o.size, dtype=int)
    for c in np.unique(products["cat"]):
        in_cat = products.index[products["cat"] == c].to_numpy()
        in_cat = in_cat[np.argsort(products["list_price"].to_numpy()[in_cat], kind="stable")]
        prices, here = products["list_price"].to_numpy()[in_cat], cat == c
        prod[here] = in_cat[np.minimum(np.searchsorted(prices, target[here]), len(prices) - 1)]
    list_price = products["list_price"].to_numpy()[prod]
    scale = gross / np.bincount(o, list_price * qty, minlength=len(orders))
    qty = qty * np.ceil(np.maximum(scale, 1.0)).astype(int)[o]
    scale = gross / np.bincount(o, list_price * qty, minlength=len(orders))
    unit = np.round(list_price * scale[o], 2)
    share = unit * qty / np.bincount(o, unit * qty, minlength=len(orders))[o]
    line_disc = np.round(orders["discount"].to_numpy()[o] * share, 2)
    # rounding leaves a few fen: the first line of quantity 1 (if any) absorbs them
    rest = np.bincount(o, unit * qty - line_disc, minlength=len(orders)) - orders["total"]
    ones = np.flatnonzero(qty == 1)
    ones = ones[np.unique(o[ones], return_index=True)[1]]
    unit[ones] = np.round(unit[ones] - rest.to_numpy()[o[ones]], 2)
    line_no = np.arange(o.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines) + 1
    returned = (rng.random(len(orders)) < 0.04) & (orders["status"] == "completed").to_numpy()
    r_ord = np.flatnonzero(returned)
    r_line = (np.cumsum(n_lines) - n_lines)[r_ord] + rng.integers(0, n_lines[r_ord])
    orders.loc[returned & (n_lines == 1), "status"] = "returned"
    ids = orders["order_id"].to_numpy()
    table = pd.DataFrame({
        "order_id": np.concatenate([ids[o], ids[r_ord]]),
        "line_no": np.concatenate([line_no, n_lines[r_ord] + 1]),
        "product_id": products["product_id"].to_numpy()[np.concatenate([prod, prod[r_line]])],
        "quantity": np.concatenate([qty, -qty[r_line]]),
        "unit_price": money(np.concatenate(
            [unit, (unit[r_line] * qty[r_line] - line_disc[r_line]) / qty[r_line]])),
        "discount": money(np.concatenate([line_disc, np.zeros(r_ord.size)]))})
    table = table.sort_values(["order_id", "line_no"], kind="stable").astype(str)
    return {"table": table.reset_index(drop=True), "order": o, "product": prod,
            "n_returns": int(r_ord.size)}


def simulate_responses(rng: np.random.Generator, cfg: dict, camp: dict,
                       orders: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Delivered/click/visit/unsubscribe for treatment; conversions (first order) for both arms.

    Returns the responses (times in weeks) and the consent rows of the unsubscribes.
    """
    c, week = orders["cust"].to_numpy(), orders["week"].to_numpy()
    in_win = ((camp["arm"][c] != "") & (week >= camp["sent"][c])
              & (week < camp["sent"][c] + camp["window"]) & (orders["kind"] != "cancelled"))
    first = np.flatnonzero(in_win)
    _, keep = np.unique(c[first], return_index=True)
    conv = first[keep]
    n = camp["arm"].size
    conv_week = np.full(n, np.inf)
    conv_week[c[conv]] = week[conv]
    treated = np.flatnonzero(camp["arm"] == "treatment")
    sent = camp["sent"][treated]
    delivered = rng.random(treated.size) < 0.97
    p_click = np.where(camp["is_extra"][treated], 0.7,
                       np.where(np.isfinite(conv_week[treated]), 0.2, 0.03))
    click = delivered & (rng.random(treated.size) < p_click)
    t_deliv = sent + rng.uniform(5, 120, treated.size) / 604800.0
    t_click = np.minimum(t_deliv + rng.exponential(120, treated.size) * MINUTE_W,
                         conv_week[treated] - 2 * MINUTE_W)
    t_click = np.maximum(t_click, t_deliv + 10 / 604800.0)
    visit = click & (rng.random(treated.size) < 0.8)
    unsub = delivered & (rng.random(treated.size) < 0.006)
    t_unsub = t_deliv + rng.uniform(1, 600, treated.size) * MINUTE_W
    ids = camp["ids"]
    parts = [(delivered, "delivered", t_deliv), (click, "click", t_click),
             (visit, "visit", t_click + rng.uniform(10, 60, treated.size) / 604800.0),
             (unsub, "unsubscribe", t_unsub)]
    frames = [pd.DataFrame({"customer_id": ids[treated[m]], "type": kind,
                            "occurred_at": t[m], "offer_id": "", "revenue": ""})
              for m, kind, t in parts]
    frames.append(pd.DataFrame({"customer_id": ids[c[conv]], "type": "conversion",
                                "occurred_at": week[conv], "offer_id": "",
                                "revenue": money(orders["total"].to_numpy()[conv])}))
    resp = pd.concat(frames, ignore_index=True)
    resp.insert(0, "campaign_id", cfg["campaign_id"])
    resp = resp.sort_values(["occurred_at", "customer_id"], kind="stable")
    unsubs = resp[resp["type"] == "unsubscribe"]
    consent = pd.DataFrame({"customer_id": unsubs["customer_id"], "channel": "sms",
                            "purpose": "marketing", "changed_at": unsubs["occurred_at"],
                            "granted": "false", "source": "sms_reply_td"})
    return resp, consent


def simulate_events(rng: np.random.Generator, cust: dict, orders: pd.DataFrame, lines: dict,
                    products: pd.DataFrame, end_week: float) -> pd.DataFrame:
    """Behaviour events, ~20 per customer: a session before each order (search, views, add to
    cart, checkout, purchase), browsing sessions (some with an abandoned cart) and anonymous
    visits (``anonymous_id`` only). Times in weeks."""
    n_o, n = len(orders), cust["n"]
    o, prod = lines["order"], lines["product"]
    o_week, o_ids = orders["week"].to_numpy(), orders["order_id"].to_numpy()
    dur = rng.uniform(3, 25, n_o) * MINUTE_W
    first_line = np.searchsorted(o, np.arange(n_o))
    search = np.flatnonzero(rng.random(n_o) < 0.5)
    sub = products["subcategory"].to_numpy()
    price = money(products["list_price"].to_numpy())
    ev = [
        (search, o_week[search] - dur[search], "search", -1,
         [f'{{"query": "{q}"}}' for q in sub[prod[first_line[search]]]]),
        (o, o_week[o] - dur[o] * rng.uniform(0.4, 0.9, o.size), "view", prod,
         [f'{{"price": {p}}}' for p in price[prod]]),
        (o, o_week[o] - dur[o] * rng.uniform(0.1, 0.4, o.size), "add_to_cart", prod,
         '{"quantity": 1}'),
        (np.arange(n_o), o_week - dur * 0.05, "checkout", -1,
         [f'{{"order_id": "{i}"}}' for i in o_ids]),
        (np.arange(n_o), o_week, "purchase", -1,
         [f'{{"order_id": "{i}", "value": {v}}}' for i, v in zip(
             o_ids, money(orders["total"]), strict=True)]),
    ]
    sess_cust = [orders["cust"].to_numpy()]
    sess_start = [o_week - dur]
    # browsing without an order: customers from sign-up on, anonymous visitors any time; a
    # session starts two hours before the end of the window at the latest (it lasts < 1 hour)
    last_start = end_week - 2 / (7 * 24)
    n_browse = rng.poisson(np.where(cust["is_buyer"], 2.0, 1.5))
    b_cust = np.repeat(np.arange(n), n_browse)
    b_start = cust["signup_week"][b_cust] + rng.random(b_cust.size) * (
        last_start - cust["signup_week"][b_cust])
    n_anon = rng.poisson(0.3 * n)
    a_start = rng.random(n_anon) * last_start
    s_cust = np.concatenate([b_cust, np.full(n_anon, -1)])
    s_start = np.concatenate([b_start, a_start])
    s_id = n_o + np.arange(s_cust.size)
    n_views = 1 + rng.poisson(1.2, s_cust.size)
    v_sess = np.repeat(np.arange(s_cust.size), n_views)
    v_rank = np.arange(v_sess.size) - np.repeat(np.cumsum(n_views) - n_views, n_views)
    v_week = s_start[v_sess] + (1 + v_rank) * rng.uniform(0.5, 3, v_sess.size) * MINUTE_W
    v_prod = _browse_products(rng, s_cust[v_sess], cust, products)
    last_view = np.cumsum(n_views) - 1
    cart = np.flatnonzero((s_cust >= 0) & (rng.random(s_cust.size) < 0.25))
    landing = np.flatnonzero(s_cust < 0)
    b_search = np.flatnonzero((s_cust >= 0) & (rng.random(s_cust.size) < 0.4))
    ev += [
        (s_id[b_search], s_start[b_search], "search", -1,
         [f'{{"query": "{q}"}}' for q in sub[v_prod[last_view[b_search]]]]),
        (s_id[landing], s_start[landing], "page_view", -1, '{"page": "home"}'),
        (s_id[v_sess], v_week, "view", v_prod, [f'{{"price": {p}}}' for p in price[v_prod]]),
        (s_id[cart], v_week[last_view[cart]] + MINUTE_W, "add_to_cart",
         v_prod[last_view[cart]], '{"quantity": 1}'),
    ]
    sess_cust += [s_cust]
    sess_start += [s_start]
    return _events_frame(rng, ev, np.concatenate(sess_cust), np.concatenate(sess_start), cust,
                         products)


def _browse_products(rng, who: np.ndarray, cust: dict, products: pd.DataFrame) -> np.ndarray:
    """A product per view: from the customer's favourite categories, uniform for anonymous."""
    out = rng.integers(0, len(products), who.size)
    known = who >= 0
    cat = pick(cust["taste_cdf"][who[known]], rng.random(known.sum()))
    size = np.bincount(products["cat"], minlength=cust["taste_cdf"].shape[1])
    first = np.cumsum(size) - size  # the catalogue is sorted by category
    out[known] = first[cat] + np.floor(rng.random(cat.size) * size[cat]).astype(int)
    return out


def _events_frame(rng, ev: list, sess_cust: np.ndarray, sess_start: np.ndarray, cust: dict,
                  products: pd.DataFrame) -> pd.DataFrame:
    """Assemble event parts (session, week, type, product, properties) into the events table."""
    sess = np.concatenate([e[0] for e in ev])
    week = np.concatenate([e[1] for e in ev])
    kind = np.concatenate([np.full(e[0].size, e[2]) for e in ev])
    prod = np.concatenate([np.broadcast_to(e[3], e[0].shape) for e in ev])
    props = np.concatenate([np.broadcast_to(np.asarray(e[4], dtype=object), e[0].shape)
                            for e in ev])
    order = np.lexsort((np.arange(week.size), week))
    sess, week, kind, prod, props = sess[order], week[order], kind[order], prod[order], props[
        order]
    rank = np.empty(sess_start.size, dtype=int)
    rank[np.lexsort((np.arange(sess_start.size), sess_start))] = np.arange(sess_start.size)
    who = sess_cust[sess]
    anon = np.char.mod("anon-%012x", rng.integers(0, 2**48, sess_start.size))
    return pd.DataFrame({
        "event_id": np.char.mod("E%09d", np.arange(1, week.size + 1)),
        "customer_id": np.where(who >= 0, cust["id"][np.maximum(who, 0)], ""),
        "anonymous_id": np.where(who < 0, anon[sess], ""),
        "occurred_at": np.maximum(week, 0.0), "type": kind,
        "product_id": np.where(prod >= 0, products["product_id"].to_numpy()[prod], ""),
        "session_id": np.char.mod("S%08d", rank[sess] + 1), "properties": props})
