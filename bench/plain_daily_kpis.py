"""The plain script a data team would write instead of the platform: the daily KPIs of an Online
Retail export with pandas, and one Markdown summary per day.

    python bench/plain_daily_kpis.py ../shared/data/online_retail.csv.gz OUT_DIR

Writes OUT_DIR/kpis.csv and OUT_DIR/days/<day>.md. Same rules as the platform (docs/metrics.md), so
that bench/backfill.py can compare the figures day by day: exact repeats dropped; an invoice
``C...`` is a cancellation dated on its own day; postage, manual and discount lines and gift
vouchers are sales but not goods; fees, commission, bad debt and samples are not sales; an order is
an invoice that bills more than zero; guests have no CustomerID.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

POSTAGE, MANUAL, DISCOUNT = {"POST", "DOT", "C2"}, {"M"}, {"D"}
NOT_SALES = {"CRUK", "BANK CHARGES", "AMAZONFEE", "B", "S", "PADS"}


def daily_kpis(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False).drop_duplicates()
    qty = df.Quantity.astype(int)
    when = pd.to_datetime(df.InvoiceDate, format="mixed")
    df = df.assign(qty=qty, cents=(qty * df.UnitPrice.astype(float) * 100).round().astype("int64"),
                   day=when.dt.normalize(), hour=when.dt.hour, cancel=df.InvoiceNo.str.startswith("C"),
                   guest=df.CustomerID == "")
    code = df.StockCode
    gift = code.str.lower().str.startswith("gift_")
    named = code.isin(POSTAGE | MANUAL | DISCOUNT | NOT_SALES) | gift
    goods = ~named & ~(~df.cancel & (df.qty < 0))  # a negative line on a sale invoice is a stock movement
    sales = df[goods | code.isin(POSTAGE | MANUAL | DISCOUNT) | gift]
    billed = sales[~sales.cancel].groupby("InvoiceNo").cents.sum()
    orders = df[df.InvoiceNo.isin(billed[billed > 0].index)]
    invoices = orders.groupby("InvoiceNo").agg(day=("day", "first"), hour=("hour", "first"),
                                               customer=("CustomerID", "first"), guest=("guest", "first"))

    days = pd.DataFrame(index=pd.date_range(df.day.min(), df.day.max(), name="day"))
    days["orders"] = invoices.groupby("day").size()
    days["gross_cents"] = sales[~sales.cancel].groupby("day").cents.sum()
    days["cancelled_cents"] = -sales[sales.cancel].groupby("day").cents.sum()
    days = days.fillna(0).astype("int64")
    days["net_cents"] = days.gross_cents - days.cancelled_cents
    days["unique_customers"] = invoices[~invoices.guest].groupby("day").customer.nunique()
    per_hour = invoices.groupby(["day", "hour"]).size().reset_index(name="n").sort_values(["day", "n", "hour"],
                                                                                            ascending=[True, False, True])
    days["peak_hour_by_orders"] = per_hour.drop_duplicates("day").set_index("day").hour
    days["unique_customers"] = days.unique_customers.fillna(0).astype("int64")
    return days


def write_summaries(days: pd.DataFrame, out: Path) -> None:
    (out / "days").mkdir(parents=True, exist_ok=True)
    days.to_csv(out / "kpis.csv")
    for day, row in days.iterrows():
        aov = f"£{row.gross_cents / row.orders / 100:,.2f}" if row.orders else "–"
        peak = "–" if pd.isna(row.peak_hour_by_orders) else f"{int(row.peak_hour_by_orders):02d}:00"
        (out / "days" / f"{day:%Y-%m-%d}.md").write_text(
            f"# Sales {day:%A %d %B %Y}\n\n| KPI | Value |\n|---|---:|\n"
            f"| Net revenue | £{row.net_cents / 100:,.2f} |\n| Orders | {row.orders:,} |\n"
            f"| Customers | {row.unique_customers:,} |\n| Average order value (gross) | {aov} |\n"
            f"| Peak hour (orders) | {peak} |\n")


if __name__ == "__main__":
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    write_summaries(daily_kpis(source), target)
