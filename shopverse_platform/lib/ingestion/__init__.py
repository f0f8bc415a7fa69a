"""Ingestion: what comes into the platform. Landing-zone event files (NDJSON batches, one-event
JSON files) and order exports in the UCI layout, registered and read without changing a byte."""
