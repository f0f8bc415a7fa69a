"""Automation helpers without Dagster definitions: settings, the landing-zone scan and its cursor,
alerts, and range backfills."""
