"""Written insights and KPI cards, as pure functions of small DataFrames and numbers.

Each insight names the figure it belongs to (``section``) and carries the number it is about
(``value``), so a test can check both the sentence and the arithmetic on a hand-made fixture.
Amounts are in the shop's reporting currency (``order_lines.reporting_currency``, docs/metrics.md
"Currencies"); every function that writes money takes its ISO code (``currency``, default GBP) and
prints its symbol, or the code itself for a currency without a well-known symbol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

DEFAULT_CURRENCY = "GBP"
# Symbols of common ISO 4217 codes that read unambiguously; any other currency prints its code
# ("CHF 1,234"). The dollars other than the US one carry their country, as they do in prices.
CURRENCY_SYMBOLS: dict[str, str] = {
    "GBP": "£", "USD": "$", "EUR": "€", "JPY": "¥", "CNY": "CN¥", "INR": "₹", "KRW": "₩",
    "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "HKD": "HK$", "SGD": "S$", "MXN": "MX$", "BRL": "R$",
    "ILS": "₪", "VND": "₫", "PHP": "₱", "NGN": "₦", "TRY": "₺", "UAH": "₴",
}
MINUS = "\u2212"  # a real minus sign: "−12%", not a hyphen
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
STEP_NAMES = {
    "session_start": "session start", "view_item": "view item", "add_to_cart": "add to cart",
    "begin_checkout": "begin checkout", "add_payment_info": "payment info", "purchase": "purchase",
}


@dataclass(frozen=True)
class Insight:
    section: str
    text: str
    value: float | None = None


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    kind: str  # "money" | "count" | "rate"
    value: float | None
    previous: float | None
    higher_is_better: bool = True
    currency: str = DEFAULT_CURRENCY  # of a money KPI

    @property
    def change(self) -> float | None:
        """Relative change for amounts and counts, difference in points (as a fraction) for rates."""
        if self.value is None or self.previous is None:
            return None
        if self.kind == "rate":
            return self.value - self.previous
        return None if self.previous == 0 else (self.value - self.previous) / abs(self.previous)

    @property
    def improved(self) -> bool | None:
        change = self.change
        if change is None or change == 0:
            return None
        return (change > 0) == self.higher_is_better

    def formatted(self) -> str:
        return fmt_value(self.value, self.kind, self.currency)

    def change_text(self) -> str:
        change = self.change
        if change is None:
            return "no comparison"
        if self.kind == "rate":
            return f"{signed(change * 100, 1)} pp"
        return signed_percent(change)


KPI_DEFINITIONS: tuple[tuple[str, str, str, bool], ...] = (
    ("net_revenue", "Net revenue", "money", True),
    ("orders", "Orders", "count", True),
    ("average_order_value", "Average order value", "money", True),  # net, orders not fully cancelled
    ("gross_average_order_value", "Average order value (gross)", "money", True),
    ("sessions", "Sessions", "count", True),
    ("conversion_rate", "Conversion rate", "rate", True),
    ("cart_abandonment_rate", "Cart abandonment", "rate", False),
    ("new_customers", "New customers", "count", True),
    ("bounce_rate", "Bounce rate", "rate", False),
)


# ------------------------------------------------------------------------------- formatting
def signed(number: float, decimals: int = 0) -> str:
    text = f"{abs(number):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        return text
    return f"+{text}" if number > 0 else f"{MINUS}{text}"


def signed_percent(fraction: float) -> str:
    """+12%, −12%, +3.4% (one decimal under 10%)."""
    return signed(fraction * 100, 0 if abs(fraction) >= 0.1 else 1) + "%"


def currency_label(currency: str = DEFAULT_CURRENCY) -> str:
    """The symbol of an ISO currency code ("£", "$"), else the code itself ("CHF")."""
    return CURRENCY_SYMBOLS.get(currency, currency)


def money(amount: float, currency: str = DEFAULT_CURRENCY) -> str:
    """"£9,120", "−$12.50", "CHF 1,234": whole units from 1,000 up, else to the cent; a code (a
    currency without a symbol) is set apart by a space."""
    label = currency_label(currency)
    prefix = f"{label} " if label == currency else label
    digits = f"{abs(amount):,.0f}" if abs(amount) >= 1000 else f"{abs(amount):,.2f}"
    return f"{MINUS if amount < 0 else ''}{prefix}{digits}"


def fmt_value(value: float | None, kind: str, currency: str = DEFAULT_CURRENCY) -> str:
    if value is None:
        return "–"
    if kind == "money":
        return money(value, currency)
    if kind == "rate":
        return f"{value:.1%}"
    return f"{value:,.0f}"


def hour_span(hour: int) -> str:
    return f"{hour:02d}:00–{hour + 1:02d}:00"


# ------------------------------------------------------------------------------- KPI cards
def kpis(totals: dict[str, float | None], previous: dict[str, float | None],
         currency: str = DEFAULT_CURRENCY) -> list[Kpi]:
    return [Kpi(key, label, kind, totals.get(key), previous.get(key), better, currency)
            for key, label, kind, better in KPI_DEFINITIONS if key in totals]


# ------------------------------------------------------------------------------- insights
def revenue_change(current: float | None, previous: float | None, period_kind: str,
                   like_for_like: bool = False, currency: str = DEFAULT_CURRENCY) -> Insight | None:
    """"Revenue −12% week over week (£9,120 against £10,364)"; ``like_for_like``: the figures are the
    covered part of a partial period and the same part of the one before."""
    if current is None or previous is None or previous == 0:
        return None
    change = (current - previous) / abs(previous)
    if like_for_like:
        over = "against the same weekdays of the previous week" if period_kind == "weekly" else \
            "against the same hours of the previous day"
    else:
        over = "week over week" if period_kind == "weekly" else "day over day"
    return Insight("trend", f"Revenue {signed_percent(change)} {over} ({money(current, currency)} against {money(previous, currency)})", change)


def partial_period(partial: str | None) -> Insight | None:
    """"Partial day: its data ends at 12:50 UTC, …": said before any change is read."""
    return None if partial is None else Insight("trend", partial[0].upper() + partial[1:])


def peak_activity(hourly: pd.DataFrame | None) -> Insight | None:
    """The busiest (weekday, hour) slot by sessions started, the earliest on a tie, with its share."""
    if hourly is None or hourly.empty or hourly.sessions.sum() <= 0:
        return None
    ordered = hourly.sort_values(["sessions", "weekday", "hour"], ascending=[False, True, True])
    top = ordered.iloc[0]
    share = float(top.sessions / hourly.sessions.sum())
    return Insight(
        "traffic",
        f"Peak activity is {WEEKDAYS[int(top.weekday)]} {hour_span(int(top.hour))} ({share:.1%} of sessions)",
        share,
    )


def funnel_drop(funnel: pd.DataFrame | None) -> Insight | None:
    """The step where the largest share of sessions does not continue, and the overall conversion.

    The steps are the rows of ``funnel`` (the closed funnel of the steps the shop emits, so the
    sentence never names an event the shop does not send). The conversion is sessions with a purchase
    ÷ sessions: ``open_sessions`` of the purchase step when the frame has it (a purchase reached out
    of order still counts), else the last step's sessions."""
    if funnel is None or len(funnel) < 2:
        return None
    steps = funnel.sort_values("step_number").reset_index(drop=True)
    worst, worst_drop = None, -1.0
    for i in range(1, len(steps)):
        before, after = steps.sessions[i - 1], steps.sessions[i]
        if before > 0 and 1 - after / before > worst_drop:
            worst, worst_drop = i, 1 - after / before
    if worst is None:
        return None
    first, last = steps.sessions.iloc[0], steps.sessions.iloc[-1]
    if "open_sessions" in steps and (steps.step == "purchase").any():
        last = steps.open_sessions[steps.step == "purchase"].iloc[0]
    overall = f"; {last / first:.1%} of sessions end in a purchase" if first > 0 else ""
    frm, to = STEP_NAMES.get(steps.step[worst - 1], steps.step[worst - 1]), STEP_NAMES.get(steps.step[worst], steps.step[worst])
    return Insight(
        "funnel",
        f"The biggest drop-off is {frm} → {to}: {worst_drop:.0%} of sessions do not continue "
        f"({steps.sessions[worst - 1]:,.0f} → {steps.sessions[worst]:,.0f}){overall}",
        worst_drop,
    )


def cart_abandonment(carts_created: float | None, carts_abandoned: float | None, products: pd.DataFrame | None,
                     min_carts: int = 5) -> Insight | None:
    """"Cart abandonment is 64%, highest for <product> (82% of 11 carts)": the product with the
    highest abandonment among those added to at least ``min_carts`` carts (all products when none is)."""
    if not carts_created:
        return None
    rate = (carts_abandoned or 0) / carts_created
    text = f"Cart abandonment is {rate:.0%} ({carts_abandoned:,.0f} of {carts_created:,.0f} carts)"
    if products is not None and not products.empty:
        added = products[products.sessions_added > 0]
        eligible = added[added.sessions_added >= min_carts]
        pool = eligible if not eligible.empty else added
        if not pool.empty:
            top = pool.sort_values(["abandonment_rate", "sessions_added", "product_name"],
                                   ascending=[False, False, True]).iloc[0]
            text = (f"Cart abandonment is {rate:.0%}, highest for {top.product_name} "
                    f"({top.abandonment_rate:.0%} of {top.sessions_added:,.0f} carts)")
    return Insight("carts", text, rate)


def top_product(products: pd.DataFrame | None, currency: str = DEFAULT_CURRENCY) -> Insight | None:
    if products is None or products.empty:
        return None
    total = products.net_revenue.clip(lower=0).sum()
    top = products.sort_values(["net_revenue", "product_name"], ascending=[False, True]).iloc[0]
    if total <= 0 or top.net_revenue <= 0:
        return None
    share = float(top.net_revenue / total)
    return Insight("products", f"{top.product_name} led product revenue with {money(top.net_revenue, currency)} "
                               f"({share:.0%} of product revenue)", share)


ANOMALY_NAMES = {
    "traffic_spike": "traffic spike", "traffic_drop": "traffic drop", "unusual_order": "unusual order",
    "bot": "bot session", "bot_session": "bot session", "hyperactive_session": "hyperactive session", "revenue_drop": "revenue drop",
}


# Per anomaly type: how its observed and expected values read (unit), what "expected" is, and how
# its threshold reads. The score of an unusual order is a ratio to the shop's 99th percentile; the
# others are robust z-scores, or a rate for bots.
ANOMALY_TERMS: dict[str, tuple[str, str, str]] = {
    "traffic_spike": ("sessions", "the median of the same hour on the same weekday", "robust z-score {op} {threshold:.1f}"),
    "traffic_drop": ("sessions", "the median of the same hour on the same weekday", "robust z-score {op} {threshold:.1f}"),
    "unusual_order": ("money", "the shop's median order", "{threshold:.1f}× the shop's 99th-percentile order"),
    "bot": ("events per minute", "the median of busy human sessions", "{threshold:.0f} events per minute"),
    "hyperactive_session": ("events per minute", "the median of busy human sessions", "robust z-score {op} {threshold:.1f}"),
    "revenue_drop": ("money", "the median of the same weekday", "robust z-score {op} {threshold:.1f}"),
}


def _amount(value: float, unit: str, currency: str = DEFAULT_CURRENCY) -> str:
    if unit == "money":
        return money(value, currency)
    return f"{value:,.1f} {unit}" if unit == "events per minute" else f"{value:,.0f} {unit}"


def describe_anomaly(row, currency: str = DEFAULT_CURRENCY) -> str:
    """One anomaly in words: what, observed against expected (with the unit and what the expected
    value is), the threshold it crossed, and, for an order, whether it was cancelled later."""
    kind = ANOMALY_NAMES.get(row.anomaly_type, str(row.anomaly_type).replace("_", " "))
    unit, baseline, threshold_text = ANOMALY_TERMS.get(row.anomaly_type, ("", "the baseline", "score {op} {threshold:,.1f}"))
    observed = _amount(row.observed, unit, currency)
    expected = "" if pd.isna(row.expected) else f" against {_amount(row.expected, unit, currency)} expected ({baseline})"
    # a drop crosses its threshold downwards: "robust z-score ≤ −4.0"
    op, sign = ("≤", MINUS) if row.score < 0 else ("≥", "")
    threshold = threshold_text.format(op=op, threshold=abs(row.threshold)).replace(f"{op} ", f"{op} {sign}")
    score = f"{MINUS}{abs(row.score):,.1f}" if row.score < 0 else f"{row.score:,.1f}"
    text = f"{kind} {row.entity_id}: {observed}{expected}; threshold {threshold}, scored {score}"
    cancelled = _cancelled_share(getattr(row, "detail", None))
    if cancelled:
        text += (", cancelled later" if cancelled >= 0.999 else f", {cancelled:.0%} of it cancelled later")
    return text


def _cancelled_share(detail) -> float | None:
    if not isinstance(detail, str) or not detail:
        return None
    try:
        share = json.loads(detail).get("cancelled_share")
    except (ValueError, AttributeError):
        return None
    return float(share) if share else None


def anomaly_summary(anomalies: pd.DataFrame | None, when: str, currency: str = DEFAULT_CURRENCY) -> Insight | None:
    """How many anomalies fell in the period (``when``: "this week", "on Friday 20 November"),
    how many are high severity, and the one with the largest |score| in words (``describe_anomaly``)."""
    if anomalies is None:
        return None
    if anomalies.empty:
        return Insight("anomalies", f"No anomalies detected {when}", 0)
    high = int((anomalies.severity == "high").sum())
    strongest = anomalies.reindex(anomalies.score.abs().sort_values(ascending=False).index).iloc[0]
    count = len(anomalies)
    return Insight(
        "anomalies",
        f"{count} anomal{'y' if count == 1 else 'ies'} {when} ({high} high); the strongest: {describe_anomaly(strongest, currency)}",
        count,
    )


def segment_movement(movements: pd.DataFrame | None) -> Insight | None:
    """The largest flow of customers between two existing segments (arrivals and departures aside)."""
    if movements is None or movements.empty:
        return None
    real = movements[~movements.from_segment.str.startswith("(") & ~movements.to_segment.str.startswith("(")]
    pool = real if not real.empty else movements
    top = pool.sort_values(["customers", "segmentation", "from_segment"], ascending=[False, True, True]).iloc[0]
    label = str(top.segmentation).replace("_", " ")
    who = "visitors" if str(top.segmentation).startswith("intent") else "customers"  # intent segments are visitors
    return Insight("segments", f"{top.customers:,.0f} {who} moved from {top.from_segment} to {top.to_segment} ({label})",
                   float(top.customers))


def _entries(value) -> list:
    """A list cell of a frame: its items, or none when the cell is NULL (None, NaN or pd.NA)."""
    return [] if value is None or (not hasattr(value, "__len__") and pd.isna(value)) else list(value)


def data_quality(quality: pd.DataFrame | None) -> Insight | None:
    """One line on what came in, when any input-quality gate warned or failed in the period:
    per source, lines received, accepted, rejected by reason, duplicates, then the findings."""
    if quality is None or quality.empty or quality.severity.max() == 0:
        return None
    parts = []
    for row in quality.itertuples():
        reasons = ", ".join(f"{r['reason']} {int(r['lines']):,}" for r in _entries(row.rejected_by_reason))
        parts.append(f"{row.source}: {int(row.lines_received):,} lines received, {int(row.lines_accepted):,} accepted, "
                     f"{int(row.lines_rejected):,} rejected" + (f" ({reasons})" if reasons else "")
                     + f", {int(row.duplicates):,} duplicates")
    findings = [f for row in quality.itertuples() if row.severity > 0 for f in _entries(row.findings)]
    verdict = "FAILED" if quality.severity.max() == 2 else "warning"
    text = f"Data quality {verdict} — " + "; ".join(parts) + ". " + " ".join(f"{f}." for f in findings[:3])
    return Insight("quality", text.strip(), float(quality.lines_rejected.sum()))


def champion_models(models: pd.DataFrame | None) -> list[Insight]:
    if models is None or models.empty:
        return []
    found = []
    for model, rows in models.groupby("model", sort=True):
        champions = rows[rows.is_champion]
        if champions.empty:
            continue
        best = champions.iloc[0]
        value = "" if pd.isna(best.value) else f" ({best.metric} {best.value:.3f})"
        found.append(Insight("models", f"Champion {model} model: version {best.version}{value}",
                             None if pd.isna(best.value) else float(best.value)))
    return found
