-- Entities the anomalies table flags with one of $anomaly_types, from events or of no source (revenue days).
SELECT entity_id FROM anomalies
WHERE anomaly_type IN (SELECT unnest($anomaly_types)) AND (source IS NULL OR source = 'events')
