-- funnel_daily's columns weekly_kpis reads, empty: its KPIs are NULL until the table is built.
SELECT NULL::DATE AS funnel_date, '' AS funnel, '' AS step, 0 AS sessions, 0 AS open_sessions WHERE false
