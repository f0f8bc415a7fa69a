-- The window the _window_* views read: views cannot take prepared parameters, so the bounds are
-- bound here once and read with getvariable(), which DuckDB folds into a constant (the filter still
-- reaches the scan of clean_events).
SET VARIABLE metrics_window = {'lo': CAST($lo AS DATE), 'hi': CAST($hi AS DATE)}
