-- The lookback and the "never" value visitor_state.sql reads. Its callers bind only $before, so
-- these are bound here, into a connection variable, when the query text is made.
SET VARIABLE segmentation_visitor_state = {'lookback_days': CAST($lookback_days AS INTEGER), 'never_days': CAST($never_days AS INTEGER)}
