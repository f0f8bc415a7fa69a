-- Regressor label: the revenue of the label window.
coalesce(l.future_revenue, 0.0)
