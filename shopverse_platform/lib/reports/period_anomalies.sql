-- The anomalies dated in [$start, $end), strongest first.
SELECT anomaly_type, anomaly_date, anomaly_ts, entity_type, entity_id, observed, expected, score, threshold,
       severity, method, detail
FROM anomalies WHERE anomaly_date >= $start AND anomaly_date < $end
ORDER BY abs(score) DESC
