-- Per value tier (in rank order): its revenue range and size, for the check that tiers do not overlap.
SELECT tier_rank, value_tier, min(net_revenue), max(net_revenue), count(*) FROM value_tiers GROUP BY ALL ORDER BY tier_rank
