-- The funnel steps the shop has emitted at least once, in its whole event history (bots included:
-- the question is what the tracker sends, not who sent it).
SELECT list(DISTINCT event_name ORDER BY event_name) FROM {{events}} WHERE list_contains($candidates, event_name)
