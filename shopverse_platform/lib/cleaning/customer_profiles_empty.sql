-- No profiles file: empty profiles of the same shape.
SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS age_group, NULL::VARCHAR AS profile_country,
       NULL::DATE AS signup_date, NULL::VARCHAR AS acquisition_channel WHERE false
