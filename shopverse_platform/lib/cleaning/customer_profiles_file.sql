-- The customer profiles of the landing zone ($customers_file, a CSV), as text then typed.
SELECT user_id AS customer_id, age_group, country AS profile_country, TRY_CAST(signup_date AS DATE) AS signup_date,
       acquisition_channel
FROM read_csv($customers_file, header = true, all_varchar = true)
