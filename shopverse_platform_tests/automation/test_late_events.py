"""Late events: a purchase that lands days after its day is cleaned under the day it landed, while
the metrics count it on its own day. The late-events sensor reads the event days clean_events
reported outside its landing days and re-runs those days' facts and metrics, so the old day's
figures come right without anyone running a backfill."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from shopverse_platform.defs.cleaning.assets import EVENT_DAYS_OUTSIDE, clean_events, clean_order_lines
from shopverse_platform.defs.ingestion.assets import raw_events, raw_orders
from shopverse_platform.defs.metrics.facts import order_lines, orders
from shopverse_platform.defs.metrics.sales import daily_sales
from shopverse_platform.defs.resources import LandingZone, Warehouse
from shopverse_platform.lib.automation.settings import last_complete_day

ASSETS = [raw_events, raw_orders, clean_events, clean_order_lines, order_lines, orders, daily_sales]


def _purchase(event_id: str, when: str, price: float) -> str:
    return json.dumps({"event_id": event_id, "event_name": "purchase", "event_time": when, "anonymous_id": f"dev-{event_id}",
                       "session_id": f"s-{event_id}", "device": "mobile", "country": "GB", "page": "/checkout",
                       "transaction_id": f"T-{event_id}", "value": price, "currency": "GBP",
                       "items": [{"item_id": "P1", "item_name": "Mug", "item_category": "Kitchen", "price": price, "quantity": 1}]})


def _land(landing: Path, day, lines: list[str]) -> None:
    folder = landing / "events" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "batch-1.ndjson").write_text("\n".join(lines) + "\n")


def _evaluate(definitions, instance, cursor) -> dg.SensorResult:
    sensor = definitions.resolve_sensor_def("late_events_sensor")
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=definitions) as context:
        return sensor(context)


def test_a_purchase_landed_late_is_counted_on_its_own_day_by_the_sensors_rerun(definitions, tmp_path):
    yesterday = last_complete_day(datetime.now(timezone.utc))
    day, landed = yesterday - timedelta(days=3), yesterday - timedelta(days=1)
    landing = tmp_path / "landing"
    _land(landing, day, [_purchase("a", f"{day}T10:00:00Z", 20.0)])
    # landed two days late: stamped the evening of `day` (a phone back online), beside one of its own day
    _land(landing, landed, [_purchase("b", f"{landed}T09:00:00Z", 15.0), _purchase("c", f"{day}T21:00:00Z", 40.0)])
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    resources = {"warehouse": warehouse, "landing_zone": LandingZone(path=str(landing))}

    def sales(on) -> tuple:
        with warehouse.connect(read_only=True) as con:
            return con.execute("SELECT orders, CAST(net_revenue AS DOUBLE) FROM daily_sales WHERE sales_date = ?",
                               [on]).fetchone()

    with dg.instance_for_test() as instance:
        first = _evaluate(definitions, instance, None)  # first look: follows from now on
        assert not first.run_requests and first.cursor == "0"
        for partition in (day, landed):
            assert dg.materialize(ASSETS, resources=resources, partition_key=partition.isoformat(), instance=instance).success
        cleaned = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("clean_events"), asset_partitions=[landed.isoformat()]), limit=1)
        assert cleaned.records[0].asset_materialization.metadata[EVENT_DAYS_OUTSIDE].value == [day.isoformat()]
        assert sales(day) == (1, 20.0) and sales(landed) == (1, 15.0)  # the late purchase not yet on its day

        result = _evaluate(definitions, instance, first.cursor)
        [request] = result.run_requests
        assert (request.job_name, request.partition_key) == ("daily_job", day.isoformat())
        assert request.tags["shopverse/trigger"] == "late_events_sensor"
        selected = {key.to_user_string() for key in request.asset_selection}
        assert {"order_lines", "orders", "daily_sales", "daily_report"} <= selected
        assert not selected & {"raw_events", "clean_events", "raw_orders", "clean_order_lines"}  # by landing day: done

        # the run the sensor asked for (its facts and daily metrics here)
        rerun = [asset for asset in ASSETS if asset.key in request.asset_selection]
        assert dg.materialize(rerun, resources=resources, partition_key=day.isoformat(), instance=instance).success
        assert sales(day) == (2, 60.0)  # 20 + 40: counted on its own day, and once
        assert sales(landed) == (1, 15.0)

        # that run cleaned nothing: nothing more to re-run; a day never built is left to its own run
        again = _evaluate(definitions, instance, result.cursor)
        assert not again.run_requests and "no clean_events materialization" in again.skip_reason.skip_message
        instance.report_runless_asset_event(dg.AssetMaterialization(
            "clean_events", partition=landed.isoformat(),
            metadata={EVENT_DAYS_OUTSIDE: dg.MetadataValue.json([(day - timedelta(days=9)).isoformat()])}))
        unbuilt = _evaluate(definitions, instance, again.cursor or result.cursor)
        assert not unbuilt.run_requests and "no late events on a built day" in unbuilt.skip_reason.skip_message
