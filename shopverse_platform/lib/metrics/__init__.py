"""The metric layer as DuckDB SQL: one order fact for both sources, daily metrics, rollups, anomalies.

No Dagster objects here. Each ``build_*`` function computes its table for a window of days into a
temporary table and replaces the window in the warehouse in one transaction; the checks in
``checks`` re-derive figures from the facts to prove the tables add up.
"""
