-- The validated exchange-rate file (currencies.read_rates) as a temp table: $dates, $currencies and
-- $rates are its columns, bound as lists. A rate is units of the reporting currency per unit of currency.
CREATE OR REPLACE TEMP TABLE {{rates}} AS
SELECT CAST(unnest($dates) AS DATE) AS rate_date, CAST(unnest($currencies) AS VARCHAR) AS currency,
       CAST(unnest($rates) AS DECIMAL(18,10)) AS rate
