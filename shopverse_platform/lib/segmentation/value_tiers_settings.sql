-- The tiers value_tiers.sql assigns, from the highest: names and the lowest revenue percentile of
-- each (rfm.VALUE_TIERS). Its callers bind only $before, so the tiers are bound here, into a
-- connection variable, when the query text is made.
SET VARIABLE segmentation_value_tiers = {'names': CAST($names AS VARCHAR[]), 'thresholds': CAST($thresholds AS DOUBLE[])}
