-- daily_traffic's columns weekly_kpis reads, empty: its KPIs are NULL until the table is built.
SELECT NULL::DATE AS traffic_date, 0 AS sessions, 0 AS page_views, 0 AS bounced_sessions WHERE false
