"""A small code location for the lineage tests, instrumented by the same policy as the platform.

Importable by module name, so the Dagster CLI and webserver can load it in their own processes
(``dagster asset materialize -m shopverse_platform_tests.lineage.location``). Resources read the
environment at run time: the tests point ``SHOPVERSE_DATA_DIR`` at a temporary directory.
"""


import json
import time

import dagster as dg

from shopverse_platform.defs.lineage.policy import with_openlineage
from shopverse_platform.defs.partitions import daily_partitions
from shopverse_platform.defs.resources import Warehouse
from shopverse_platform.lib import paths

REVENUE_SQL = (
    "SELECT customer, sum(amount) AS revenue, count(*) AS orders, max(placed_at) AS last_order "
    "FROM lineage_orders WHERE amount > 0 GROUP BY customer"
)
ORDERS = [("ann", 10.0, "2024-03-05 10:00:00"), ("ann", 5.5, "2024-03-05 11:00:00"), ("bob", 7.25, "2024-03-06 09:30:00"),
          ("bob", -2.0, "2024-03-06 10:00:00")]


def landing_file():
    return paths.data_dir() / "landing" / "lineage_orders.csv"


def _starts_seen(job: str) -> int:
    """How many START events for ``job`` were already written when this line ran."""
    path = paths.data_dir() / "lineage" / "events.ndjson"
    if not path.exists():
        return 0
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sum(1 for e in events if e["job"]["name"] == job and e["eventType"] == "START")


@dg.asset(kinds={"duckdb", "csv"}, owners=["team:data-platform"])
def lineage_orders(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Orders read from one landing CSV file: the raw layer of the lineage test location."""
    source = landing_file()
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_text("customer,amount,placed_at\n" + "".join(f"{c},{a},{t}\n" for c, a, t in ORDERS))
    with warehouse.connect() as con:
        con.execute(
            "CREATE OR REPLACE TABLE lineage_orders AS SELECT customer, amount::DOUBLE AS amount, "
            "placed_at::TIMESTAMP AS placed_at FROM read_csv(?, header = true)",
            [str(source)],
        )
    return dg.MaterializeResult(metadata={
        "source_files": dg.MetadataValue.json([str(source)]),
        "dagster/row_count": len(ORDERS),
        "starts_seen_by_the_body": _starts_seen("lineage_orders"),
    })


@dg.asset(
    deps=[lineage_orders],
    kinds={"duckdb", "sql"},
    metadata={"lineage/sql": REVENUE_SQL},
    check_specs=[
        dg.AssetCheckSpec("revenue_positive", asset="lineage_revenue", description="Every customer's revenue is > 0.",
                          blocking=True),
        dg.AssetCheckSpec("two_customers", asset="lineage_revenue", description="Exactly two customers.", blocking=False),
    ],
)
def lineage_revenue(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Revenue per customer, built by one SELECT (the metric-table shape)."""
    with warehouse.connect() as con:
        con.execute(f"CREATE OR REPLACE TABLE lineage_revenue AS {REVENUE_SQL}")
        rows = con.execute("SELECT count(*), min(revenue) FROM lineage_revenue").fetchone()
    yield dg.MaterializeResult(metadata={"dagster/row_count": rows[0]})
    yield dg.AssetCheckResult(check_name="revenue_positive", passed=bool(rows[1] > 0))
    yield dg.AssetCheckResult(check_name="two_customers", passed=rows[0] == 2)


@dg.asset(deps=[lineage_revenue], kinds={"mlflow", "sklearn"})
def lineage_model(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """A trained model (logged to MLflow in the real ML layer): an mlflow:// dataset, not a table."""
    return dg.MaterializeResult(metadata={"model": "stand-in"})


@dg.asset(deps=[lineage_orders], kinds={"duckdb"})
def lineage_broken(context: dg.AssetExecutionContext) -> None:
    """Fails on purpose: its FAIL event must carry this error."""
    raise ValueError("deliberate failure for the lineage tests")


@dg.asset(
    deps=[lineage_orders],
    kinds={"duckdb"},
    check_specs=[dg.AssetCheckSpec("never_passes", asset="lineage_blocked", description="Always fails.", blocking=True)],
)
def lineage_blocked(context: dg.AssetExecutionContext, warehouse: Warehouse):
    """Writes its table, then fails a blocking check: Dagster fails the step afterwards."""
    with warehouse.connect() as con:
        con.execute("CREATE OR REPLACE TABLE lineage_blocked AS SELECT 1 AS x")
    yield dg.MaterializeResult()
    yield dg.AssetCheckResult(check_name="never_passes", passed=False)


@dg.asset(partitions_def=daily_partitions, kinds={"duckdb"}, metadata={"partition_expr": "day"})
def lineage_daily(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """One row per day partition."""
    window = context.partition_time_window
    with warehouse.connect() as con:
        con.execute("CREATE TABLE IF NOT EXISTS lineage_daily (day DATE, n INTEGER)")
        con.execute("DELETE FROM lineage_daily WHERE day >= ? AND day < ?", [window.start.date(), window.end.date()])
        con.execute("INSERT INTO lineage_daily SELECT CAST(range AS DATE), 1 FROM range(?::TIMESTAMP, ?::TIMESTAMP, INTERVAL 1 DAY)",
                    [window.start.date(), window.end.date()])
    return dg.MaterializeResult()


@dg.asset(kinds={"duckdb"})
def lineage_slow(context: dg.AssetExecutionContext) -> None:
    """Runs until it is cancelled (the ABORT test)."""
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)


@dg.asset(deps=[lineage_revenue], kinds={"html", "markdown"})
def lineage_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    """A report: writes an HTML page and a Markdown summary, and names them as paths."""
    folder = paths.data_dir() / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "revenue.html").write_text("<h1>Revenue</h1>")
    (folder / "revenue.md").write_text("# Revenue")
    return dg.MaterializeResult(metadata={
        "html": dg.MetadataValue.path(str(folder / "revenue.html")),
        "markdown": dg.MetadataValue.path(str(folder / "revenue.md")),
        "sections": 1,
    })


ASSETS = [lineage_orders, lineage_revenue, lineage_model, lineage_broken, lineage_blocked, lineage_daily, lineage_slow,
          lineage_report]
defs = with_openlineage(dg.Definitions(assets=ASSETS, resources={"warehouse": Warehouse()}))
