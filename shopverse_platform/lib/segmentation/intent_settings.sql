-- The lookback and the repeat-visit threshold intent_segments.sql reads. Its callers bind only
-- $before, so these are bound here, into a connection variable, when the query text is made.
SET VARIABLE segmentation_intent = {'lookback_days': CAST($lookback_days AS INTEGER), 'repeat_sessions': CAST($repeat_sessions AS INTEGER)}
