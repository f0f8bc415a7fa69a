SELECT grain, slot, is_peak_events, is_peak_revenue FROM seasonality WHERE is_peak_events OR is_peak_revenue
