-- dim_customers' shape, empty: customer metrics still build before the dimension ever was.
SELECT NULL::VARCHAR AS customer_id, NULL::VARCHAR AS age_group, NULL::VARCHAR AS country,
    NULL::DATE AS signup_date, NULL::VARCHAR AS acquisition_channel WHERE false
