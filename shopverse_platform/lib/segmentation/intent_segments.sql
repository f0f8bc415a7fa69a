-- Recent visitors (seen in the lookback before $before) with their intent level: converted (bought),
-- high (added to cart and came back without buying), medium (product interest), low (browsing only).
-- The level names are intent.INTENT_LEVELS.
SELECT visitor_id, CAST($before AS DATE) - 1 AS as_of_date,
       getvariable('segmentation_intent').lookback_days AS lookback_days,
       CASE WHEN recent_purchases > 0 THEN 'converted'
            WHEN recent_cart_adds > 0 AND recent_sessions >= getvariable('segmentation_intent').repeat_sessions THEN 'high'
            WHEN recent_item_views > 0 OR recent_cart_adds > 0 THEN 'medium'
            ELSE 'low' END AS intent_segment,
       is_identified, recent_sessions, recent_active_days, recent_page_views, recent_item_views,
       recent_cart_adds, recent_checkouts, recent_purchases, revenue_total, last_seen_date
FROM ({{visitor_state}})
