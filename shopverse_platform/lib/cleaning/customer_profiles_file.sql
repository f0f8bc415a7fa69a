-- The customer profiles of the landing zone ($file, a CSV), as text then typed.
SELECT user_id AS customer_id, age_group, country AS profile_country, TRY_CAST(signup_date AS DATE) AS signup_date,
       acquisition_channel
FROM read_csv($file, header = true, all_varchar = true)
