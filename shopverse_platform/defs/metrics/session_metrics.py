"""Session-based daily metrics: traffic, the purchase funnel, carts and products.

One multi-asset because the four share their most expensive input: every session of the window with
its bot flag (``_window_sessions``), computed once per run. Each table is still its own asset, and
any subset of them can be materialized.
"""

from collections.abc import Callable

import dagster as dg

from shopverse_platform.defs.asset_helpers import table_metadata
from shopverse_platform.defs.asset_shapes import ANALYTICS, window, window_params
from shopverse_platform.defs.checks import Check, run_checks
from shopverse_platform.defs.lineage.sql_lineage import StatementLog, sql_lineage_metadata
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib.metrics import carts, checks, traffic
from shopverse_platform.lib.metrics.checks import nested_rates
from shopverse_platform.lib.metrics.sources import create_window_events

TRAFFIC_COUNTS = ["visitors", "sessions", "events", "page_views", "product_views", "bounced_sessions",
                  "bot_sessions", "bot_events"]
CART_RATES = ["abandonment_rate"] + [
    nested_rates(column, "abandonment_rate") for column in ("by_hour", "by_device", "by_country", "by_segment")
]
PRODUCT_COUNTS = ["views", "add_to_carts", "removes", "purchases", "units", "gross_revenue", "refunds",
                  "sessions_viewed", "sessions_added"]

DESCRIPTIONS = {
    "daily_traffic": """Traffic per UTC day: visitors (devices), sessions (on the day they started, also when they
cross midnight), page and product views, bounce rate, sessions per visitor, and activity by hour.
Bot sessions are counted apart (`bot_sessions`, `bot_events`) and left out of the rest.""",
    "funnel_daily": """The purchase journey per day: session start → view item → add to cart → begin checkout →
add payment info → purchase, keeping only the steps the shop emits (a shop without checkout events
gets view item → add to cart → purchase). Closed funnel (`sessions`): sessions (by start day, bots
excluded) that reached each step in order, with conversion from the previous step and from the start,
and drop-off. Open funnel (`open_sessions`, `open_conversion_rate`): sessions that reached the step
in any order; at the purchase step, sessions with a purchase ÷ sessions is the conversion rate. The
checkout funnel (begin checkout → add payment info → purchase) is reported on its own (`funnel`='checkout').""",
    "cart_abandonment": """Carts per day (a cart lives in a session, counted on the day the session started): created,
converted (purchased after the first add to cart), abandoned; abandonment rate; value left in
abandoned carts (added minus removed); the most abandoned products; and abandonment by hour, device,
country and customer segment (anonymous / new / returning customer).""",
    "product_performance": """Per product and day: views, add-to-carts, removes (on the event's day), purchases (orders),
units, revenue and refunds (from the order fact; goods only, not postage or fees), and the
view→cart, cart→purchase and abandonment rates of the sessions that started that day.""",
}
DATE_COLUMNS = {"daily_traffic": "traffic_date", "funnel_daily": "funnel_date", "cart_abandonment": "cart_date",
                "product_performance": "product_date"}
DEPS = {"daily_traffic": ["clean_events"], "funnel_daily": ["clean_events"],
        "cart_abandonment": ["clean_events", "orders"], "product_performance": ["clean_events", "order_lines"]}
CART_TABLES = {"cart_abandonment", "product_performance"}  # the two read the window's carts (carts.create_window_carts)
BUILDERS = {"daily_traffic": traffic.build_daily_traffic, "funnel_daily": traffic.build_funnel_daily,
            "cart_abandonment": carts.build_cart_abandonment, "product_performance": carts.build_product_performance}

# All of them look at the run's days only: they run inside the asset, on its window.
CHECKS = [
    Check("daily_traffic", "every_day_present", "Exactly one row for every day of the run, empty days included.", blocking=True),
    Check("daily_traffic", "no_negative_counts", "No negative visitor, session or event count.", blocking=True),
    Check("daily_traffic", "rates_in_unit_interval", "Bounce rate lies in [0, 1].", blocking=True),
    Check("funnel_daily", "never_rises", "Within a day and funnel, no step has more sessions than the step before.", blocking=True),
    Check("funnel_daily", "rates_in_unit_interval", "Conversion and drop-off rates lie in [0, 1].", blocking=True),
    Check("funnel_daily", "every_day_present",
          "Every day of the run has a row for every step the shop emits (9 with all: 6 purchase + 3 checkout).",
          blocking=True),
    Check("funnel_daily", "no_negative_counts", "No negative session count.", blocking=True),
    Check("cart_abandonment", "carts_add_up", "Carts created = converted + abandoned, every day.", blocking=True),
    Check("cart_abandonment", "rates_in_unit_interval", "Abandonment rates (daily and in every breakdown) lie in [0, 1].", blocking=True),
    Check("cart_abandonment", "every_day_present", "Exactly one row for every day of the run.", blocking=True),
    Check("cart_abandonment", "no_negative_counts", "No negative cart count or value.", blocking=True),
    Check("product_performance", "revenue_reconciles",
         "Product revenue and refunds summed over products equal the product lines of the order fact.", blocking=True),
    Check("product_performance", "rates_in_unit_interval", "View→cart, cart→purchase and abandonment rates lie in [0, 1].", blocking=True),
    Check("product_performance", "no_negative_counts", "No negative view, cart, purchase, unit or revenue figure.", blocking=True),
]


# The columns each table's no_negative_counts and rates_in_unit_interval checks look at (one scan for both).
CHECKED_COUNTS = {"daily_traffic": TRAFFIC_COUNTS, "funnel_daily": ["sessions"],
                  "cart_abandonment": ["carts_created", "carts_converted", "carts_abandoned", "abandoned_value"],
                  "product_performance": PRODUCT_COUNTS}
CHECKED_RATES = {"daily_traffic": ["bounce_rate"],
                 "funnel_daily": ["conversion_from_previous", "drop_off_rate", "conversion_from_start", "open_conversion_rate"],
                 "cart_abandonment": CART_RATES,
                 "product_performance": ["view_to_cart_rate", "cart_to_purchase_rate", "abandonment_rate"]}


def _evaluations(table: str, con, start, end) -> dict[str, Callable[[], tuple[bool, dict]]]:
    """How each check of ``table`` is evaluated on the run's days, by its name in ``CHECKS``."""
    params = {"start": start, "end": end}
    every_day = lambda rows=1: checks.every_day_present(con, table, DATE_COLUMNS[table], start, end, rows)  # noqa: E731
    no_negative_counts, rates_in_unit_interval = checks.counts_and_rates(
        con, table, CHECKED_COUNTS[table], CHECKED_RATES[table], window(DATE_COLUMNS[table]), params)
    shared = {"no_negative_counts": no_negative_counts, "rates_in_unit_interval": rates_in_unit_interval}
    return shared | {
        "daily_traffic": {"every_day_present": every_day},
        "funnel_daily": {
            "never_rises": lambda: checks.funnel_never_rises(con, start, end),
            # the funnel's build, just before in this step, brought the event names up to date
            "every_day_present": lambda: every_day(traffic.funnel_rows_per_day(con, observations_updated=True)),
        },
        "cart_abandonment": {
            "carts_add_up": lambda: checks.carts_add_up(con, start, end),
            "every_day_present": every_day,
        },
        "product_performance": {
            "revenue_reconciles": lambda: checks.product_revenue_reconciles(con, start, end),
        },
    }[table]


SHAPES = {table: ANALYTICS.daily(DATE_COLUMNS[table], DEPS[table]) for table in BUILDERS}
OP_LEVEL = ("partitions_def", "backfill_policy")  # arguments of the multi-asset, the same for the four tables


@dg.multi_asset(
    name="session_metrics",
    specs=[
        dg.AssetSpec(table, description=DESCRIPTIONS[table], **{k: v for k, v in shape.items() if k not in OP_LEVEL})
        for table, shape in SHAPES.items()
    ],
    check_specs=[check.spec() for check in CHECKS],
    can_subset=True,
    **{k: SHAPES["daily_traffic"][k] for k in OP_LEVEL},
)
def session_metrics(context: dg.AssetExecutionContext, warehouse: Warehouse):
    params = window_params(context)
    start, end = params["start"], params["end"]
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    with warehouse.connect() as con:
        log = StatementLog(con)  # the SQL that really ran, for column lineage
        create_window_events(log, start, end)
        if selected & CART_TABLES:
            carts.create_window_carts(log, start, end)
        shared = log.take()  # the window's sessions, events and carts, which the tables read
        for table, build in BUILDERS.items():
            if table not in selected:
                continue
            rows = build(log, start, end, window_ready=True)
            yield dg.MaterializeResult(asset_key=table, metadata={
                **table_metadata(con, table, window(DATE_COLUMNS[table]), params, window_rows=rows),
                **sql_lineage_metadata(con, table, [*shared, *log.take()]),
            })
            evaluations = _evaluations(table, con, start, end)
            yield from run_checks(
                [(check, evaluations[check.name]) for check in CHECKS if check.asset == table],
                context.selected_asset_check_keys,
            )
