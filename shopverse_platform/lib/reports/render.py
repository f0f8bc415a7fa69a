"""A report as an HTML page and a Markdown summary (shown in the Dagster UI), from the data of one
period, and the index page of the reports folder.

The pages of the reports folder share one copy of plotly.js (``plotly-<version>.min.js`` at the
folder's root, written once): inlining it made every page 4.8 MB (1.7 GB for a year of daily pages)
and writing them the largest step of a year's run. A page still opens offline from the folder, or
served by ``shopverse up``. The single-file page, to mail, is ``write_self_contained``
(``shopverse report --self-contained``)."""

from __future__ import annotations

import html
import os
import tempfile
from dataclasses import dataclass, field
from datetime import date
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import plotly
import plotly.graph_objects as go
import plotly.offline

from shopverse_platform.lib.reports import figures
from shopverse_platform.lib.reports import insights as ins
from shopverse_platform.lib.reports.data import ReportData

SECTIONS: tuple[tuple[str, str], ...] = (
    ("trend", "Revenue and orders"),
    ("traffic", "Traffic by hour"),
    ("funnel", "Purchase funnel"),
    ("products", "Top products"),
    ("carts", "Cart abandonment"),
    ("segments", "Customer segments"),
    ("anomalies", "Anomalies"),
    ("models", "Models"),
)


@dataclass
class Report:
    data: ReportData
    kpis: list[ins.Kpi]
    insights: list[ins.Insight]
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def title(self) -> str:
        return f"ShopVerse {self.data.period.kind} report — {self.data.period.label}"

    def insights_for(self, section: str) -> list[ins.Insight]:
        return [i for i in self.insights if i.section == section]


def build(data: ReportData) -> Report:
    period = data.period
    when = "this week" if period.kind == "weekly" else f"on {period.start:%A %d %B}"
    like = data.like_for_like
    found = [
        ins.data_quality(data.quality),  # first: figures built on a bad feed are read in its light
        ins.partial_period(data.partial),
        (ins.revenue_change(like.get("net_revenue"), like.get("previous_net_revenue"), period.kind, like_for_like=True,
                            currency=data.currency)
         if data.partial else
         ins.revenue_change(data.totals.get("net_revenue"), data.previous_totals.get("net_revenue"), period.kind,
                            currency=data.currency)),
        ins.peak_activity(data.hourly),
        ins.funnel_drop(data.funnel),
        ins.top_product(data.products, data.currency),
        ins.cart_abandonment(
            None if data.carts is None else data.carts.carts_created.iloc[0],
            None if data.carts is None else data.carts.carts_abandoned.iloc[0],
            data.products,
        ),
        ins.segment_movement(data.movements),
        ins.anomaly_summary(data.anomalies, when, data.currency),
        *ins.champion_models(data.models),
    ]
    previous = data.previous_totals
    if data.partial:
        # a partial period is compared like for like where that is known (revenue, orders), and
        # not at all for the rest: a full-period change would mislead
        previous = {"net_revenue": like.get("previous_net_revenue"), "orders": like.get("previous_orders")}
    kpis = [] if "kpis" in data.missing else ins.kpis(data.totals, previous, data.currency)
    return Report(data, kpis, [i for i in found if i is not None])


# ------------------------------------------------------------------------------------- HTML
CSS = """
body{font-family:-apple-system,Segoe UI,Roboto,Helvetica,Arial,sans-serif;margin:0;background:#f5f7fa;color:#1f2933}
header{background:#1f3a5f;color:white;padding:24px 40px}header h1{margin:0;font-size:26px}
header p{margin:6px 0 0;opacity:.8}main{max-width:1180px;margin:0 auto;padding:24px 40px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-bottom:24px}
.card{background:white;border-radius:10px;padding:14px 16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.card .label{font-size:13px;color:#52606d}.card .value{font-size:26px;font-weight:600;margin:4px 0}
.card .change{font-size:13px}.good{color:#2e8b57}.bad{color:#c8453b}.flat{color:#7b8794}
section{background:white;border-radius:10px;padding:18px 22px;margin-bottom:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
section h2{margin:0 0 10px;font-size:19px}.insight{border-left:4px solid #2f6fb3;background:#eef4fb;
padding:8px 12px;margin:8px 0;font-size:15px}.missing{color:#7b8794;font-style:italic}
.highlights li{margin:4px 0}table{border-collapse:collapse;width:100%;font-size:13px;margin-top:8px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e4e7eb}th{color:#52606d;font-weight:600}th.num{text-align:right}
td.num{text-align:right}.two{display:grid;grid-template-columns:1fr 1fr;gap:18px}
.quality{background:#fff4e5;border-left:4px solid #c8453b;padding:10px 14px;margin-bottom:18px;font-size:15px}
footer{color:#7b8794;font-size:12px;text-align:center;padding:10px 0 30px}
"""


def _figure(fig: go.Figure) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displayModeBar": False, "responsive": True},
                       default_height=f"{fig.layout.height or 360}px")


def _table(frame: pd.DataFrame, columns: list[tuple[str, str, str]], currency: str = ins.DEFAULT_CURRENCY) -> str:
    """columns: (column, heading, format) with format one of text, int, money, float, rate."""
    def cell(value, kind: str) -> str:
        if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
            return "<td></td>"
        if kind == "text":
            return f"<td>{html.escape(str(value))}</td>"
        text = {"int": f"{value:,.0f}", "money": ins.money(float(value), currency), "float": f"{value:,.2f}",
                "float4": f"{value:,.4f}", "rate": f"{value:.1%}"}[kind]
        return f'<td class="num">{text}</td>'
    head = "".join(f'<th{"" if k == "text" else " class=num"}>{html.escape(h)}</th>' for _, h, k in columns)
    rows = "".join("<tr>" + "".join(cell(row[c], k) for c, _, k in columns) + "</tr>" for _, row in frame.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _missing(report: Report, *sections: str) -> str | None:
    reasons = [report.data.missing[s] for s in sections if s in report.data.missing]
    return f'<p class="missing">{html.escape("; ".join(reasons))}</p>' if reasons else None


def _empty(frame: pd.DataFrame | None) -> bool:
    return frame is None or frame.empty


def _section_body(report: Report, section: str) -> str:
    data, weekly = report.data, report.data.period.kind == "weekly"
    no_data = f'<p class="missing">no data for this {data.period.noun}</p>'
    if section == "trend":
        return _missing(report, "trend") or (no_data if _empty(data.trend) else _figure(figures.trend(data.trend, weekly, ins.currency_label(data.currency))))
    if section == "traffic":
        return _missing(report, "traffic") or (no_data if _empty(data.hourly) or data.hourly.sessions.sum() == 0
                                                else _figure(figures.traffic(data.hourly, weekly)))
    if section == "funnel":
        if _missing(report, "funnel"):
            return _missing(report, "funnel")
        if _empty(data.funnel) or data.funnel.sessions.iloc[0] == 0:
            return no_data
        steps = data.funnel.assign(drop_off=lambda f: 1 - f.sessions / f.sessions.shift(1))
        return _figure(figures.funnel(data.funnel)) + _table(
            steps.assign(step=steps.step.map(lambda s: ins.STEP_NAMES.get(s, s))),
            [("step", "step", "text"), ("sessions", "sessions", "int"), ("drop_off", "drop-off from previous step", "rate")])
    if section == "products":
        if _missing(report, "products"):
            return _missing(report, "products")
        top = data.products[data.products.net_revenue > 0].nlargest(10, "net_revenue") if not _empty(data.products) else None
        if _empty(top):
            return no_data
        return _figure(figures.bar_ranking(top.product_name, top.net_revenue, figures.BLUE, f"net revenue ({ins.currency_label(data.currency)})",
                                           [ins.money(v, data.currency) for v in top.net_revenue]))
    if section == "carts":
        if _missing(report, "carts", "products"):
            return _missing(report, "carts", "products")
        if _empty(data.carts) or not data.carts.carts_created.iloc[0]:
            return no_data
        carts = data.carts.iloc[0]
        summary = (f"<p>{carts.carts_created:,.0f} carts, {carts.carts_abandoned:,.0f} abandoned, "
                   f"{ins.money(carts.abandoned_value or 0, data.currency)} left in abandoned carts.</p>")
        abandoned = data.products[data.products.abandoned_carts > 0].nlargest(10, "abandoned_carts")
        left = (_figure(figures.bar_ranking(abandoned.product_name, abandoned.abandoned_carts, figures.ORANGE,
                                            "abandoned carts", [f"{r:.0%} of {n:,.0f}" for r, n in
                                                                zip(abandoned.abandonment_rate, abandoned.sessions_added)]))
                if not abandoned.empty else no_data)
        right = _figure(figures.carts_by_device(data.carts_by_device)) if not _empty(data.carts_by_device) else ""
        return summary + f'<div class="two"><div><h3>Most-abandoned products</h3>{left}</div>' \
                         f'<div><h3>By device</h3>{right}</div></div>'
    if section == "segments":
        if _missing(report, "segments"):
            return _missing(report, "segments")
        body = f"<p>Weekly snapshot of the week starting {data.segments_week}.</p>" + _figure(figures.segments(data.segments))
        if not _empty(data.movements):
            arrivals = data.movements.from_segment.str.startswith("(") | data.movements.to_segment.str.startswith("(")
            moves = data.movements[~arrivals]
            came = data.movements[data.movements.from_segment.str.startswith("(")].customers.sum()
            went = data.movements[data.movements.to_segment.str.startswith("(")].customers.sum()
            body += (f"<h3>Largest movements</h3><p>{moves.customers.sum():,.0f} changed segment; "
                     f"{came:,.0f} entered a segmentation and {went:,.0f} left one this week.</p>")
            if not moves.empty:
                body += _table(moves.head(12), [
                    ("segmentation", "segmentation", "text"), ("from_segment", "from", "text"),
                    ("to_segment", "to", "text"), ("customers", "customers or visitors", "int")])
        return body + (_missing(report, "movements") or "")
    if section == "anomalies":
        if _missing(report, "anomalies"):
            return _missing(report, "anomalies")
        if _empty(data.anomalies):
            return f"<p>No anomalies detected in this {data.period.noun}.</p>"
        return _table(data.anomalies.head(20), [
            ("anomaly_type", "type", "text"), ("entity_id", "what", "text"), ("observed", "observed", "float"),
            ("expected", "expected", "float"), ("score", "score", "float"), ("severity", "severity", "text")])
    if section == "models":
        if _missing(report, "models"):
            return _missing(report, "models")
        return _table(data.models, [("model", "model", "text"), ("version", "version", "text"),
                                    ("alias", "alias", "text"), ("metric", "validation metric", "text"),
                                    ("value", "value", "float4"), ("registered", "registered (UTC)", "text")])
    raise ValueError(section)


def _card(kpi: ins.Kpi, noun: str) -> str:
    tone = {True: "good", False: "bad", None: "flat"}[kpi.improved]
    arrow = "" if kpi.change is None else ("▲ " if kpi.change > 0 else "▼ " if kpi.change < 0 else "")
    return (f'<div class="card"><div class="label">{html.escape(kpi.label)}</div>'
            f'<div class="value">{kpi.formatted()}</div>'
            f'<div class="change {tone}">{arrow}{kpi.change_text()} vs previous {noun}</div></div>')


def to_html(report: Report, plotly_src: str | None = None) -> str:
    """The page; ``plotly_src``: the relative URL of a shared plotly.js, else plotly.js is inlined."""
    data = report.data
    cards = "".join(_card(k, data.period.noun) for k in report.kpis) or _missing(report, "kpis") or ""
    highlights = "".join(f"<li>{html.escape(i.text)}</li>" for i in report.insights if i.section != "quality")
    quality = "".join(f'<div class="quality">{html.escape(i.text)}</div>' for i in report.insights_for("quality"))
    sections = []
    for key, heading in SECTIONS:
        notes = "".join(f'<div class="insight">{html.escape(i.text)}</div>' for i in report.insights_for(key))
        sections.append(f'<section id="{key}"><h2>{heading}</h2>{notes}{_section_body(report, key)}</section>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(report.title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style>
{_plotly_script(plotly_src)}</head>
<body><header><h1>{html.escape(report.title)}</h1>
<p>{data.period.start} to {data.period.end} (exclusive), UTC · generated {report.generated_at:%Y-%m-%d %H:%M} UTC</p></header>
<main>{quality}<div class="cards">{cards}</div>
<section id="highlights"><h2>Highlights</h2><ul class="highlights">{highlights or '<li>No data for this period yet.</li>'}</ul></section>
{''.join(sections)}</main><footer>ShopVerse Platform · built by the Dagster asset {data.period.kind}_report</footer></body></html>
"""


# ------------------------------------------------------------------------------------- Markdown
def to_markdown(report: Report, html_path: Path | None = None) -> str:
    noun = report.data.period.noun
    lines = [f"# {report.title}", ""]
    lines += [line for i in report.insights_for("quality") for line in (f"> **{i.text}**", "")]
    if report.kpis:
        lines += [f"| KPI | Value | Previous {noun} | Change |", "|---|---:|---:|---:|"]
        lines += [f"| {k.label} | {k.formatted()} | {ins.fmt_value(k.previous, k.kind, k.currency)} | {k.change_text()} |" for k in report.kpis]
        lines.append("")
    others = [i for i in report.insights if i.section != "quality"]
    lines += ["## Insights", ""] + ([f"- {i.text}" for i in others] or ["- No data for this period yet."])
    if report.data.missing:
        lines += ["", "## Not available yet", ""]
        lines += [f"- {dict(SECTIONS).get(k, k.title())}: {why}" for k, why in report.data.missing.items()]
    if html_path is not None:
        lines += ["", f"Full report (HTML): `{html_path}`"]
    return "\n".join(lines) + "\n"


PLOTLY_FILE = f"plotly-{plotly.__version__}.min.js"


def _plotly_script(src: str | None) -> str:
    if src is None:
        return f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>'
    return f'<script type="text/javascript" src="{html.escape(src)}" charset="utf-8"></script>'


def _write_atomically(path: Path, text: str) -> None:
    """Readers (the served folder, a browser) never see half a file: write beside it, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                     delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def shared_plotly(root: Path) -> Path:
    """The reports folder's copy of plotly.js, written on first use (its name carries the version, so
    an upgrade writes a new one beside the old and pages keep the version they were drawn with)."""
    path = root / PLOTLY_FILE
    if not path.exists():
        _write_atomically(path, plotly.offline.get_plotlyjs())
    return path


def write(report: Report, directory: Path) -> tuple[Path, Path]:
    """Write ``<directory>/<period key>.html`` (plotly.js shared from the parent folder) and ``.md``,
    and refresh the folder's index page; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    shared_plotly(directory.parent)
    html_path = directory / f"{report.data.period.key}.html"
    md_path = directory / f"{report.data.period.key}.md"
    _write_atomically(html_path, to_html(report, plotly_src=f"../{PLOTLY_FILE}"))
    _write_atomically(md_path, to_markdown(report, html_path))
    write_index(directory.parent)
    return html_path, md_path


def write_self_contained(report: Report, path: Path) -> Path:
    """One file with plotly.js inlined: opens anywhere, can be mailed (about 4.8 MB)."""
    _write_atomically(path, to_html(report))
    return path


def _pages(root: Path, kind: str) -> list[date]:
    found = []
    for page in (root / kind).glob("*.html"):
        try:
            found.append(date.fromisoformat(page.stem))
        except ValueError:
            continue  # a self-contained copy or anything else put there by hand
    return sorted(found)


def index_html(root: Path) -> str:
    """The reports folder's front page: the latest daily and weekly report, then every report by
    month, newest first (a calendar of the days, the weeks beside it)."""
    daily, weekly = _pages(root, "daily"), _pages(root, "weekly")
    latest = []
    if daily:
        latest.append(f'<a class="big" href="daily/{daily[-1]}.html">Latest daily report: {daily[-1]:%A %d %B %Y}</a>')
    if weekly:
        latest.append(f'<a class="big" href="weekly/{weekly[-1]}.html">Latest weekly report: week of {weekly[-1]:%d %B %Y}</a>')
    months = sorted({(d.year, d.month) for d in daily + weekly}, reverse=True)
    blocks = []
    for year, month in months:
        first = date(year, month, 1)
        days = {d.day for d in daily if (d.year, d.month) == (year, month)}
        cells = ["<td></td>"] * first.weekday()
        day = first
        while day.month == month:
            cells.append(f'<td><a href="daily/{day}.html">{day.day}</a></td>' if day.day in days else f"<td>{day.day}</td>")
            day = date.fromordinal(day.toordinal() + 1)
        rows = "".join("<tr>" + "".join(cells[i:i + 7]) + "</tr>" for i in range(0, len(cells), 7))
        weeks = "".join(f'<li><a href="weekly/{w}.html">week of {w:%d %b}</a></li>'
                        for w in weekly if (w.year, w.month) == (year, month))
        blocks.append(f'<section><h2>{first:%B %Y}</h2><div class="month"><table><thead><tr>'
                      + "".join(f"<th>{d}</th>" for d in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))
                      + f"</tr></thead><tbody>{rows}</tbody></table><ul>{weeks}</ul></div></section>")
    body = "".join(latest) + ("".join(blocks) or '<p class="missing">No report has been written yet.</p>')
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ShopVerse reports</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}
a.big{{display:block;font-size:18px;margin:6px 0 14px}}.month{{display:grid;grid-template-columns:auto 1fr;gap:30px}}
.month td,.month th{{text-align:center;width:34px}}.month td a{{font-weight:600}}</style></head>
<body><header><h1>ShopVerse reports</h1><p>{len(daily)} daily and {len(weekly)} weekly reports · days in bold have a report</p></header>
<main>{body}</main><footer>ShopVerse Platform · written with each report</footer></body></html>
"""


def write_index(root: Path) -> Path:
    path = root / "index.html"
    _write_atomically(path, index_html(root))
    return path


def report_directory(kind: str) -> Path:
    """Where reports are stored: ``<data>/reports/daily`` and ``<data>/reports/weekly``."""
    from shopverse_platform.lib import paths

    return paths.reports_dir() / kind
