"""Reports from a hand-made warehouse (see fixtures.py for the answers): data, insights, HTML,
Markdown, the report assets and `shopverse report`."""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from shopverse_platform.cli.reports import add_report_commands
from shopverse_platform.defs.ml.resources import MlflowTracking
from shopverse_platform.defs.reports.assets import daily_report, weekly_report
from shopverse_platform.lib.reports import data as report_data
from shopverse_platform.lib.reports import render
from shopverse_platform_tests.conftest import materialize_range
from shopverse_platform_tests.reports import fixtures

M = "\u2212"


@pytest.fixture
def report_resources(resources) -> dict:
    return {**resources, "mlflow_tracking": MlflowTracking()}


@pytest.fixture
def full_warehouse(warehouse) -> Path:
    path = warehouse.resolved_path()
    con = duckdb.connect(str(path))
    fixtures.build_all(con)
    con.close()
    return path


def _load(path: Path, period: report_data.Period) -> report_data.ReportData:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return report_data.load(con, period)
    finally:
        con.close()


def test_weekly_report_totals_and_insights(full_warehouse):
    data = _load(full_warehouse, report_data.Period.week(fixtures.WEEK))
    assert data.totals["net_revenue"] == pytest.approx(880)
    assert data.previous_totals["net_revenue"] == pytest.approx(1000)
    assert data.totals["orders"] == 22 and data.totals["gross_average_order_value"] == pytest.approx(45.0)
    assert data.totals["average_order_value"] == pytest.approx(930 / 21)  # net, Sunday's cancelled order left out
    assert data.totals["conversion_rate"] == pytest.approx(0.08)  # 80 purchases / 1000 sessions
    assert data.totals["cart_abandonment_rate"] == pytest.approx(0.64)
    texts = [i.text for i in render.build(data).insights]
    assert f"Revenue {M}12% week over week (£880.00 against £1,000)" in texts
    assert "Peak activity is Wednesday 14:00–15:00 (9.1% of sessions)" in texts
    assert "Cart abandonment is 64%, highest for A (90% of 10 carts)" in texts
    assert "A led product revenue with £300.00 (75% of product revenue)" in texts
    assert any(t.startswith("The biggest drop-off is view item → add to cart: 75%") for t in texts)
    assert any(t.startswith("2 anomalies this week (2 high); the strongest: revenue drop 2026-11-14") for t in texts)
    assert set(data.missing) == {"segments", "models"}
    assert data.missing["models"] == "not available yet: no model registry configured"


def test_daily_report_compares_with_the_day_before(full_warehouse):
    data = _load(full_warehouse, report_data.Period.day(date(2026, 11, 11)))
    texts = [i.text for i in render.build(data).insights]
    assert "Revenue +8.3% day over day (£130.00 against £120.00)" in texts  # (130 - 120) / 120
    # that Wednesday: 23 slots of 5 and 91 at 14:00 -> 91 / 206 = 44.2 %
    assert "Peak activity is Wednesday 14:00–15:00 (44.2% of sessions)" in texts
    assert "1 anomaly on Wednesday 11 November (1 high); the strongest: traffic spike 2026-11-11 14:00: 91 sessions " \
           "against 5 sessions expected (the median of the same hour on the same weekday); threshold robust z-score " \
           "≥ 5.0, scored 9.4" in texts


def test_pages_share_plotly_and_markdown_summarises(full_warehouse, tmp_path):
    report = render.build(_load(full_warehouse, report_data.Period.week(fixtures.WEEK)))
    html_path, md_path = render.write(report, tmp_path / "reports" / "weekly")
    page = html_path.read_text(encoding="utf-8")
    # one script loaded from a file: the folder's shared plotly.js, which exists; nothing else
    assert re.findall(r"<script[^>]+src=\"([^\"]+)\"", page) == [f"../{render.PLOTLY_FILE}"]
    shared = tmp_path / "reports" / render.PLOTLY_FILE
    assert shared.read_text(encoding="utf-8").startswith("/**") and shared.stat().st_size > 3_000_000
    assert "<link" not in page
    assert len(page) < 300_000  # was 4.8 MB with plotly.js inlined into every page
    assert page.count('class="plotly-graph-div"') >= 5  # trend, heatmap, funnel, products, abandoned, devices
    # the mailable single file inlines it and loads nothing
    mailable = render.write_self_contained(report, tmp_path / "mail.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", mailable) and len(mailable) > 3_000_000 and "Plotly" in mailable
    # the folder's index links the page as the latest weekly report and in its month
    index = (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
    assert f'href="weekly/{fixtures.WEEK}.html">Latest weekly report' in index
    assert "0 daily and 1 weekly reports" in index and "November 2026" in index
    assert "Peak activity is Wednesday 14:00–15:00 (9.1% of sessions)" in page
    assert "not available yet" in page  # segments and models
    summary = md_path.read_text(encoding="utf-8")
    assert summary.startswith("# ShopVerse weekly report — Week 46 2026 (9 Nov – 15 Nov 2026)")
    assert f"| Net revenue | £880.00 | £1,000 | {M}12% |" in summary
    assert "| Cart abandonment | 64.0% |" in summary
    assert str(html_path) in summary


def test_sections_degrade_when_tables_are_missing(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse.resolved_path()))
    fixtures.build_sales(con)
    con.close()
    data = _load(warehouse.resolved_path(), report_data.Period.week(fixtures.WEEK))
    assert set(data.missing) == {"traffic", "funnel", "products", "carts", "anomalies", "segments", "models"}
    assert all(reason.startswith("not available yet") for reason in data.missing.values())
    html_path, md_path = render.write(render.build(data), tmp_path)
    assert "daily_traffic has not been built" in html_path.read_text(encoding="utf-8")
    assert "## Not available yet" in md_path.read_text(encoding="utf-8")
    # an empty warehouse still gives a (nearly empty) report
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    nothing = _load(empty, report_data.Period.day(date(2026, 11, 11)))
    assert "kpis" in nothing.missing and render.build(nothing).insights == []


def test_segment_sections_read_the_weekly_snapshot(full_warehouse):
    con = duckdb.connect(str(full_warehouse))
    con.execute("CREATE TABLE segment_snapshots (week_start DATE, segmentation VARCHAR, entity_id VARCHAR, segment VARCHAR)")
    con.execute("INSERT INTO segment_snapshots SELECT DATE '2026-11-09', 'rfm_segment', 'c' || range, "
                "CASE WHEN range < 3 THEN 'Champions' ELSE 'Lost' END FROM range(10)")
    con.execute("CREATE TABLE segment_movements (week_start DATE, segmentation VARCHAR, from_segment VARCHAR, "
                "to_segment VARCHAR, moved BOOLEAN, entities BIGINT)")
    con.execute("INSERT INTO segment_movements VALUES ('2026-11-09', 'rfm_segment', 'Champions', 'Lost', true, 4), "
                "('2026-11-09', 'rfm_segment', 'Lost', 'Lost', false, 6)")
    con.close()
    data = _load(full_warehouse, report_data.Period.week(fixtures.WEEK))
    assert dict(zip(data.segments.segment, data.segments.customers)) == {"Champions": 3, "Lost": 7}
    assert "4 customers moved from Champions to Lost (rfm segment)" in [i.text for i in render.build(data).insights]
    # a daily report of the week before has no snapshot that has ended yet
    assert "segments" in _load(full_warehouse, report_data.Period.day(date(2026, 11, 8))).missing


def test_report_assets_write_files_and_attach_the_summary(full_warehouse, report_resources, tmp_path):
    resources = report_resources
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([daily_report], partition_key="2026-11-11", resources=resources, instance=instance)
    metadata = result.asset_materializations_for_node("daily_report")[0].metadata
    html_path = Path(metadata["html"].value)
    assert html_path == tmp_path / "data" / "reports" / "daily" / "2026-11-11.html" and html_path.exists()
    assert "Revenue +8.3% day over day" in metadata["summary"].value
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "daily_report_opens_offline" and check.passed
    assert metadata["url"].value == "http://127.0.0.1:8090/daily/2026-11-11.html"
    assert (tmp_path / "data" / "reports" / render.PLOTLY_FILE).exists()

    weekly = dg.materialize([weekly_report], partition_key="2026-11-09", resources=resources, instance=instance)
    summary = weekly.asset_materializations_for_node("weekly_report")[0].metadata["summary"].value
    assert f"Revenue {M}12% week over week" in summary
    assert "Models: not available yet: no model has been trained" in summary  # no MLflow store was created
    assert not (tmp_path / "data" / "mlflow" / "mlflow.db").exists()

    ranged = materialize_range([daily_report], resources, "2026-11-09", "2026-11-15")
    assert ranged.success
    written = sorted(p.name for p in (tmp_path / "data" / "reports" / "daily").glob("*.html"))
    assert written == [f"2026-11-{d:02d}.html" for d in range(9, 16)]
    assert ranged.asset_materializations_for_node("daily_report")[0].metadata["reports_written"].value == 7


def test_report_command_prints_where_the_report_is(full_warehouse, report_resources, capsys, monkeypatch):
    resources = report_resources
    dg.materialize([weekly_report], partition_key="2026-11-09", resources=resources, instance=dg.DagsterInstance.ephemeral())
    parser = argparse.ArgumentParser()
    add_report_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", "--date", "2026-11-12", "--weekly"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "weekly report 2026-11-09" in out and "2026-11-09.html" in out and "file://" in out
    assert "Peak activity is Wednesday 14:00–15:00 (9.1% of sessions)" in out
    # --self-contained: the same report as one file to mail, read from the configured warehouse
    monkeypatch.setenv("SHOPVERSE_WAREHOUSE", str(full_warehouse))
    mail = parser.parse_args(["report", "--date", "2026-11-12", "--weekly", "--self-contained"])
    assert mail.func(mail) == 0
    (standalone,) = re.findall(r"to mail:\s+(\S+)", capsys.readouterr().out)
    assert standalone.endswith("weekly/2026-11-09.standalone.html")
    page = Path(standalone).read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page) and "Plotly" in page
    assert "Peak activity is Wednesday 14:00–15:00 (9.1% of sessions)" in page
    missing = parser.parse_args(["report", "--date", "2026-11-12"])
    assert missing.func(missing) == 1
    assert "no daily report for 2026-11-12 yet" in capsys.readouterr().out
