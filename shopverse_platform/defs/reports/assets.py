"""Reports as assets: one HTML page and one Markdown summary per day and per week."""

import re
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from shopverse_platform.defs.asset_helpers import window_dates
from shopverse_platform.defs.asset_shapes import ANALYTICS
from shopverse_platform.defs.checks import Check
from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib import paths
from shopverse_platform.lib.ml.specs import CHURN, CLV, PROPENSITY
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.reports import render
from shopverse_platform.lib.reports.models import load_models

REPORTS = ANALYTICS.with_group("reports")
KINDS = {"plotly", "html", "markdown"}
DAILY_INPUTS = ["daily_sales", "daily_traffic", "funnel_daily", "cart_abandonment", "product_performance", "anomalies"]


def _periods(kind: str, start: date, end: date) -> list[report_data.Period]:
    if kind == "daily":
        return [report_data.Period.day(start + timedelta(days=i)) for i in range((end - start).days)]
    return [report_data.Period.week(start + timedelta(days=7 * i)) for i in range((end - start).days // 7)]


def _model_source(mlflow_tracking: MlflowTracking):
    """Reads the registry once per run, only when a report asks for it."""
    cache: list = []

    def read():
        if not cache:
            specs = [(spec.name, spec.primary_metric) for spec in (CHURN, PROPENSITY, CLV)]
            cache.append(load_models(mlflow_tracking.resolved_tracking_uri(), mlflow_tracking.resolved_registry_uri(), specs))
        return cache[0]

    return read


def build_report(kind: str, period: report_data.Period, warehouse: Warehouse | None = None,
                 mlflow_tracking: MlflowTracking | None = None) -> render.Report:
    """The report of ``period`` as the asset builds it, read from the warehouse read-only (for
    `shopverse report --self-contained`, which renders the single-file page from the same data)."""
    warehouse = warehouse or Warehouse()
    models = _model_source(mlflow_tracking or MlflowTracking())
    with warehouse.connect(read_only=True) as con:
        return render.build(report_data.load(con, period, models))


def _opens_offline(paths: list[Path]) -> tuple[bool, dict]:
    """Every page loads nothing from the network, and each script it loads from a file (the shared
    plotly.js) exists beside it in the reports folder."""
    external = re.compile(r"<(?:script|link|img)[^>]+(?:src|href)=[\"'](?:https?:)?//", re.IGNORECASE)
    local = re.compile(r"<script[^>]+src=[\"']([^\"']+)[\"']", re.IGNORECASE)
    offenders = []
    for path in paths:
        page = path.read_text(encoding="utf-8")
        missing = [src for src in local.findall(page) if not (path.parent / src).resolve().is_file()]
        if external.search(page) or missing or ("Plotly" not in page and not local.findall(page)):
            offenders.append(str(path))
    return not offenders, {"pages": len(paths), "not_opening_offline": offenders}


def _materialize_reports(context: dg.AssetExecutionContext, warehouse: Warehouse, mlflow_tracking: MlflowTracking,
                         kind: str):
    """Build the report of every period of the run (one, or a range in a single-run backfill)."""
    start, end = window_dates(context)
    written: list[tuple[report_data.Period, Path, Path, render.Report]] = []
    models = _model_source(mlflow_tracking)
    with warehouse.connect() as con:
        for period in _periods(kind, start, end):
            report = render.build(report_data.load(con, period, models))
            html_path, md_path = render.write(report, render.report_directory(kind))
            written.append((period, html_path, md_path, report))
            context.log.info(f"{kind} report {period.key}: {html_path}")
    period, html_path, md_path, report = written[-1]
    summary = render.to_markdown(report, html_path)
    if len(written) > 1:
        index = "\n".join(f"| {p.key} | `{h}` |" for p, h, _, _ in written)
        summary = f"{len(written)} {kind} reports in this run:\n\n| period | HTML |\n|---|---|\n{index}\n\nThe last one:\n\n{summary}"
    yield dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.md(summary),
        "html": dg.MetadataValue.path(str(html_path)),
        # served by `shopverse up` (the reports folder, with its index)
        "url": dg.MetadataValue.url(f"{paths.reports_url()}/{kind}/{html_path.name}"),
        "index": dg.MetadataValue.url(f"{paths.reports_url()}/index.html"),
        "markdown": dg.MetadataValue.path(str(md_path)),
        "insights": dg.MetadataValue.json([i.text for i in report.insights]),
        "sections_not_available": dg.MetadataValue.json(report.data.missing),
        "reports_written": dg.MetadataValue.int(len(written)),
        "html_bytes": dg.MetadataValue.int(html_path.stat().st_size),
    })
    # evaluated by the asset: the pages are the ones this run wrote
    yield opens_offline(kind).result(_opens_offline([h for _, h, _, _ in written]))


def opens_offline(kind: str) -> Check:
    return Check(f"{kind}_report", "opens_offline",
                 "Every HTML page of the run references nothing on the network and finds the reports folder's "
                 "shared plotly.js beside it, so it opens offline from the folder or served by `shopverse up` "
                 "(`shopverse report --self-contained` writes the single-file page to mail).")


@dg.asset(**REPORTS.daily(None, DAILY_INPUTS, kinds=KINDS), check_specs=[opens_offline("daily").spec()])
def daily_report(context: dg.AssetExecutionContext, warehouse: Warehouse, mlflow_tracking: MlflowTracking):
    """The day's report: an HTML page under data/reports/daily/<day>.html (plotly.js shared from the
    reports folder; opens offline, served by `shopverse up` with an index) and a Markdown summary
    beside it, shown here. `shopverse report --date D --self-contained` writes the page to mail.

    KPI cards against the previous day, the 28-day revenue and orders trend, sessions by hour, the
    purchase funnel with its drop-offs, top and most-abandoned products, cart abandonment, segment
    sizes and movements, the day's anomalies and model performance, each with written insights
    computed from the data. A section whose table has not been built yet says so.
    """
    yield from _materialize_reports(context, warehouse, mlflow_tracking, "daily")


@dg.asset(
    **REPORTS.weekly(None, [*DAILY_INPUTS, "weekly_kpis", "segment_snapshots", "segment_movements",
                            CHURN.name, PROPENSITY.name, CLV.name], kinds=KINDS),
    check_specs=[opens_offline("weekly").spec()],
)
def weekly_report(context: dg.AssetExecutionContext, warehouse: Warehouse, mlflow_tracking: MlflowTracking):
    """The week's report (Monday to Sunday, UTC): data/reports/weekly/<monday>.html and .md.

    The daily report's sections over the week, compared with the week before ("Revenue −12% week
    over week"), the 12-week trend, sessions by weekday and hour ("Peak activity is Wednesday
    14:00–15:00"), the segment snapshot of the week with its movements, and the current champion
    models.
    """
    yield from _materialize_reports(context, warehouse, mlflow_tracking, "weekly")
