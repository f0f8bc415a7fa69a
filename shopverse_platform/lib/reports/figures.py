"""Plotly figures of a report, one function per section; each takes the section's small frame."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from shopverse_platform.lib.reports.insights import STEP_NAMES, WEEKDAYS

BLUE, ORANGE, GREY, RED, GREEN = "#2f6fb3", "#e8833a", "#9aa5b1", "#c8453b", "#2e8b57"
FONT = "-apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif"


def _layout(fig: go.Figure, height: int = 360, **kwargs) -> go.Figure:
    fig.update_layout(
        height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, font={"family": FONT, "size": 12},
        plot_bgcolor="white", paper_bgcolor="white", legend={"orientation": "h", "y": 1.12}, **kwargs,
    )
    fig.update_xaxes(gridcolor="#eef1f4")
    fig.update_yaxes(gridcolor="#eef1f4")
    return fig


def trend(frame: pd.DataFrame, weekly: bool, currency: str = "£") -> go.Figure:
    """Orders as bars, net revenue as a line; ``currency``: the symbol or code the axis names."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    x = pd.to_datetime(frame.bucket)
    fig.add_trace(go.Bar(x=x, y=frame.orders, name="Orders", marker_color=GREY, opacity=0.7), secondary_y=False)
    fig.add_trace(go.Scatter(x=x, y=frame.net_revenue, name=f"Net revenue ({currency})", mode="lines+markers",
                             line={"color": BLUE, "width": 3}), secondary_y=True)
    fig.update_yaxes(title_text="orders", secondary_y=False, rangemode="tozero")
    fig.update_yaxes(title_text=f"net revenue ({currency})", secondary_y=True, rangemode="tozero", showgrid=False)
    if weekly:
        # one tick per bar, at the bar's own date: the Monday its week starts (plotly's 7-day ticks
        # fall on Sundays, which read as the wrong week)
        fig.update_xaxes(tickvals=list(x), ticktext=[f"w/c {d.day} {d:%b}" for d in x])
    else:
        fig.update_xaxes(dtick=86400000 * 2, tickformat="%d %b")
    return _layout(fig)


def traffic(hourly: pd.DataFrame, weekly: bool) -> go.Figure:
    if not weekly:
        by_hour = hourly.groupby("hour", as_index=False).sessions.sum()
        peak = by_hour.sessions.max()
        colors = [ORANGE if v == peak and v > 0 else BLUE for v in by_hour.sessions]
        fig = go.Figure(go.Bar(x=[f"{h:02d}:00" for h in by_hour.hour], y=by_hour.sessions, marker_color=colors,
                               name="Sessions started"))
        fig.update_yaxes(title_text="sessions started")
        return _layout(fig)
    grid = hourly.pivot_table(index="weekday", columns="hour", values="sessions", aggfunc="sum", fill_value=0)
    grid = grid.reindex(index=range(7), columns=range(24), fill_value=0)
    fig = go.Figure(go.Heatmap(z=grid.values, x=[f"{h:02d}" for h in range(24)], y=list(WEEKDAYS),
                               colorscale="Blues", colorbar={"title": "sessions"},
                               hovertemplate="%{y} %{x}:00<br>%{z:,.0f} sessions<extra></extra>"))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title_text="hour (UTC)")
    return _layout(fig, height=330)


def funnel(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Funnel(
        y=[STEP_NAMES.get(s, s) for s in frame.step], x=frame.sessions,
        textinfo="value+percent previous+percent initial", marker={"color": BLUE},
        connector={"line": {"color": GREY}},
    ))
    return _layout(fig, height=380)


def bar_ranking(labels: pd.Series, values: pd.Series, color: str, title: str, text: list[str] | None = None) -> go.Figure:
    fig = go.Figure(go.Bar(y=labels, x=values, orientation="h", marker_color=color, text=text, textposition="auto"))
    fig.update_yaxes(autorange="reversed", automargin=True)
    fig.update_xaxes(title_text=title)
    return _layout(fig, height=max(220, 34 * len(labels) + 60))


def carts_by_device(frame: pd.DataFrame) -> go.Figure:
    fig = go.Figure(go.Bar(x=frame.device, y=frame.abandonment_rate, marker_color=ORANGE,
                           text=[f"{r:.0%} of {c:,.0f}" for r, c in zip(frame.abandonment_rate, frame.carts)],
                           textposition="auto"))
    fig.update_yaxes(tickformat=".0%", range=[0, 1], title_text="abandonment rate")
    return _layout(fig, height=300)


def segments(frame: pd.DataFrame) -> go.Figure:
    names = list(dict.fromkeys(frame.segmentation))
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[n.replace("_", " ") for n in names],
                        horizontal_spacing=0.12)
    for i, name in enumerate(names, start=1):
        part = frame[frame.segmentation == name]
        fig.add_trace(go.Bar(y=part.segment, x=part.customers, orientation="h", marker_color=BLUE, showlegend=False),
                      row=1, col=i)
        fig.update_yaxes(autorange="reversed", automargin=True, row=1, col=i)
    return _layout(fig, height=max(260, 26 * int(frame.groupby("segmentation").size().max()) + 80))
