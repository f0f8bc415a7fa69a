"""Customer and visitor segmentation as DuckDB SQL and scikit-learn: value tiers, RFM segments,
behaviour clusters, intent segments, weekly snapshots and the movements between them.

No Dagster objects here. Every segmentation is computed *as of* a day from the date-stamped facts
(``orders``, ``clean_events``), so the current tables and any past week's snapshot come from the
same code, and a snapshot rebuilt later gives the same answer.
"""
