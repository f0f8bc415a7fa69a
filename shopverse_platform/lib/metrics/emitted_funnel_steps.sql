-- The funnel steps the shop has emitted at least once, in its whole event history (bots included:
-- the question is what the tracker sends, not who sent it), from the per-day event names kept in
-- event_name_observations (lib/cleaning/event_name_observations.sql).
SELECT list(DISTINCT event_name ORDER BY event_name) FROM event_name_observations
WHERE list_contains($candidates, event_name) AND events > 0
