-- Firm-year spend features from transaction ledgers (helpers.spend).
--
-- Portable SQL: DuckDB runs it today and Spark SQL must run it unchanged later, so this file avoids
-- engine-only syntax (no ASOF JOIN, QUALIFY, '::' casts, strftime, list/struct functions, lateral
-- column aliases, subqueries inside CASE). TRY_CAST needs Spark 3.2 or later.
--
-- The file is a chain of named views. Each "-- name: <view>" line starts one definition; the engine
-- layer creates them in order (DuckDB: CREATE TEMP VIEW <view> AS ...; Spark: createOrReplaceTempView)
-- and reads ledger_summary, a small table that holds everything but the bad-line examples: the
-- ledger is read once, and a second time (ledger_bad_lines) only when some lines are bad.
--
-- Input views registered by the engine layer:
--   ledger(firm_id, booking_date, cost_center, vendor, vendor_category, payment_method, currency,
--          amount, raw_booking_date, raw_amount, source_file, source_row)
--                                             ledger columns as the engine layer typed them
--                                             (helpers.ledger_types: dates and amounts converted
--                                             from the ledger's own forms, NULL where a value did
--                                             not convert); raw_* the date and amount as read,
--                                             for the bad-line examples; source_row: 1-based data
--                                             row in its file, or NULL
--   fx(currency, month_index, rate_to_eur)    one row per currency and month that has a rate;
--                                             month_index = year * 12 + month - 1; EUR = 1
--   fx_calendar(month_index)                  every month from the first to the last FX month
--   vendors(vendor_key, vendor_category)      lower-cased vendor name -> category (unique keys)
-- Parameters ({{name}}) are replaced by quoted SQL literals (lists for IN) before running:
--   currency, it_cost_centers, tech_categories, shadow_categories, sanctioned_payment_methods,
--   card_payment_methods, marketing_cost_center — all lower case except currency.

-- name: fx_monthly
-- As-of lookup without ASOF JOIN: for every calendar month and currency, the rate of that month or,
-- when the month is missing from the FX table, the most recent earlier rate.
WITH grid AS (
    SELECT c.month_index, k.currency
    FROM fx_calendar c
    CROSS JOIN (SELECT DISTINCT currency FROM fx) k
),
candidates AS (
    SELECT g.currency,
           g.month_index,
           f.rate_to_eur,
           ROW_NUMBER() OVER (PARTITION BY g.currency, g.month_index
                              ORDER BY f.month_index DESC) AS recency
    FROM grid g
    JOIN fx f ON f.currency = g.currency AND f.month_index <= g.month_index
)
SELECT currency, month_index, rate_to_eur
FROM candidates
WHERE recency = 1

-- name: fx_rates
-- Rate from each currency into the reporting currency, per calendar month.
SELECT l.currency, l.month_index, l.rate_to_eur / t.rate_to_eur AS rate
FROM fx_monthly l
JOIN fx_monthly t ON t.month_index = l.month_index
WHERE t.currency = {{currency}}

-- name: fx_rates_latest
-- One row per currency of the FX table: bookings after the last FX month use its latest rate.
WITH ranked AS (
    SELECT currency, rate_to_eur,
           ROW_NUMBER() OVER (PARTITION BY currency ORDER BY month_index DESC) AS recency
    FROM fx
),
latest AS (
    SELECT currency, rate_to_eur FROM ranked WHERE recency = 1
)
SELECT l.currency, e.last_month, l.rate_to_eur / t.rate_to_eur AS rate
FROM latest l
CROSS JOIN latest t
CROSS JOIN (SELECT MAX(month_index) AS last_month FROM fx_calendar) e
WHERE t.currency = {{currency}}

-- name: ledger_lines
-- One row per ledger line: typed values, reporting-currency amount, category, classification flags
-- and the first broken rule (problem; NULL for a usable line). raw_* keep the values as read, for
-- the bad-row examples (cast to text only after filtering, which keeps the main pass cheap).
WITH typed AS (
    SELECT NULLIF(TRIM(CAST(firm_id AS STRING)), '') AS firm_id,
           TRY_CAST(booking_date AS DATE) AS booking_date,
           TRY_CAST(amount AS DOUBLE) AS amount,
           UPPER(TRIM(CAST(currency AS STRING))) AS currency,
           LOWER(TRIM(CAST(cost_center AS STRING))) AS cost_center,
           NULLIF(TRIM(CAST(vendor AS STRING)), '') AS vendor,
           LOWER(NULLIF(TRIM(CAST(vendor_category AS STRING)), '')) AS ledger_category,
           LOWER(TRIM(CAST(payment_method AS STRING))) AS payment_method,
           firm_id AS raw_firm_id,
           raw_booking_date,
           currency AS raw_currency,
           raw_amount,
           source_file,
           source_row
    FROM ledger
),
keyed AS (
    SELECT t.*,
           EXTRACT(YEAR FROM t.booking_date) AS booking_year,
           EXTRACT(YEAR FROM t.booking_date) * 12 + EXTRACT(MONTH FROM t.booking_date) - 1
               AS month_index,
           LOWER(t.vendor) AS vendor_key
    FROM typed t
),
priced AS (
    SELECT k.*,
           CASE WHEN k.currency = {{currency}} THEN 1.0
                WHEN r.rate IS NOT NULL THEN r.rate
                WHEN k.month_index > l.last_month THEN l.rate
           END AS rate,
           l.currency AS known_currency,
           COALESCE(v.vendor_category, k.ledger_category) AS category,
           CASE WHEN v.vendor_category IS NULL THEN 0 ELSE 1 END AS is_mapped
    FROM keyed k
    LEFT JOIN fx_rates r ON r.currency = k.currency AND r.month_index = k.month_index
    LEFT JOIN fx_rates_latest l ON l.currency = k.currency  -- one row per currency in fx
    LEFT JOIN vendors v ON v.vendor_key = k.vendor_key
)
SELECT firm_id,
       booking_year,
       vendor,
       vendor_key,
       amount * rate AS amount_conv,
       COALESCE(category, 'uncategorised') AS category,
       CASE WHEN category IS NULL THEN 1 ELSE 0 END AS is_uncategorised,
       is_mapped,
       CASE WHEN COALESCE(cost_center IN ({{it_cost_centers}}), FALSE) THEN 'it'
            WHEN cost_center = {{marketing_cost_center}} THEN 'marketing'
            ELSE 'other'
       END AS fn_class,
       CASE WHEN cost_center = {{marketing_cost_center}} THEN 1 ELSE 0 END AS is_marketing,
       CASE WHEN COALESCE(category IN ({{tech_categories}}), FALSE) THEN 1 ELSE 0 END AS is_tech,
       CASE WHEN NOT COALESCE(cost_center IN ({{it_cost_centers}}), FALSE)
             AND COALESCE(category IN ({{shadow_categories}}), FALSE)
             AND NOT COALESCE(COALESCE(payment_method, '') IN ({{sanctioned_payment_methods}}), FALSE)
            THEN 1 ELSE 0
       END AS is_shadow,
       CASE WHEN COALESCE(payment_method IN ({{card_payment_methods}}), FALSE) THEN 1 ELSE 0 END
           AS is_card,
       -- First broken rule wins, so the counts add up to the number of excluded lines.
       -- NOT (ABS(amount) <= 1.0E300) catches NaN and +/-infinity in DuckDB and Spark alike.
       CASE WHEN firm_id IS NULL THEN 'missing-firm-id'
            WHEN booking_date IS NULL THEN 'bad-date'
            WHEN amount IS NULL OR NOT (ABS(amount) <= 1.0E300) THEN 'bad-amount'
            WHEN known_currency IS NULL AND COALESCE(currency, '') <> {{currency}}
                THEN 'unknown-currency'
            WHEN rate IS NULL THEN 'no-fx-rate'
       END AS problem,
       raw_firm_id,
       raw_booking_date,
       raw_currency,
       raw_amount,
       source_file,
       source_row
FROM priced

-- name: ledger_summary
-- The one pass over the ledger (DuckDB streams the shared CTE `lines` to all its consumers). The
-- engine layer splits this small table by row_kind:
--   'firm_year' rows: net sums per problem, firm and year. Those with problem IS NULL are the
--                     features; the others count the excluded lines per broken rule.
--   'vendor' rows:    per problem and vendor name that the vendor map does not know
--                     (unmapped_vendor; '' for a missing name): n_lines, amount, n_uncategorised.
-- Refunds are negative amounts and net out in every sum. The distinct technology vendors per
-- function come from one DISTINCT over the usable lines (cheaper than three COUNT(DISTINCT ...)).
WITH lines AS (
    SELECT * FROM ledger_lines
),
sums AS (
    SELECT problem,
           firm_id,
           booking_year,
           SUM(CASE WHEN fn_class = 'it' AND is_tech = 1 THEN amount_conv ELSE 0.0 END) AS it_spend,
           SUM(CASE WHEN is_marketing = 1 THEN amount_conv ELSE 0.0 END) AS marketing_spend,
           SUM(CASE WHEN fn_class = 'marketing' AND is_tech = 1 THEN amount_conv ELSE 0.0 END)
               AS martech_spend,
           SUM(CASE WHEN fn_class = 'other' AND is_tech = 1 THEN amount_conv ELSE 0.0 END)
               AS other_tech_spend,
           SUM(CASE WHEN is_tech = 1 THEN amount_conv ELSE 0.0 END) AS tech_spend_total,
           SUM(CASE WHEN is_shadow = 1 THEN amount_conv ELSE 0.0 END) AS shadow_it_spend,
           SUM(CASE WHEN is_tech = 1 AND is_card = 1 THEN amount_conv ELSE 0.0 END)
               AS card_tech_spend,
           SUM(CASE WHEN is_uncategorised = 1 THEN amount_conv ELSE 0.0 END)
               AS uncategorised_spend,
           SUM(CASE WHEN amount_conv < 0 THEN -amount_conv ELSE 0.0 END) AS refunds,
           COUNT(*) AS n_lines
    FROM lines
    GROUP BY problem, firm_id, booking_year
),
tech_vendors AS (
    SELECT DISTINCT firm_id, booking_year, fn_class, vendor_key
    FROM lines
    WHERE problem IS NULL AND is_tech = 1 AND vendor_key IS NOT NULL
),
vendor_counts AS (
    SELECT firm_id,
           booking_year,
           CAST(SUM(CASE WHEN fn_class = 'it' THEN 1 ELSE 0 END) AS BIGINT) AS n_vendors_it,
           CAST(SUM(CASE WHEN fn_class = 'marketing' THEN 1 ELSE 0 END) AS BIGINT)
               AS n_vendors_marketing,
           CAST(SUM(CASE WHEN fn_class = 'other' THEN 1 ELSE 0 END) AS BIGINT) AS n_vendors_other
    FROM tech_vendors
    GROUP BY firm_id, booking_year
),
unmapped AS (
    SELECT problem,
           COALESCE(vendor, '') AS unmapped_vendor,
           COUNT(*) AS n_lines,
           SUM(amount_conv) AS amount,
           CAST(SUM(is_uncategorised) AS BIGINT) AS n_uncategorised
    FROM lines
    WHERE is_mapped = 0
    GROUP BY problem, COALESCE(vendor, '')
)
SELECT 'firm_year' AS row_kind,
       s.problem,
       s.firm_id,
       CAST(s.booking_year AS INT) AS year,
       s.it_spend,
       s.marketing_spend,
       s.martech_spend,
       s.other_tech_spend,
       s.tech_spend_total,
       s.shadow_it_spend,
       -- a technology total under half a cent counts as zero: no share
       CASE WHEN ABS(s.tech_spend_total) >= 0.005 THEN s.shadow_it_spend / s.tech_spend_total END
           AS shadow_it_share,
       CASE WHEN ABS(s.tech_spend_total) >= 0.005 THEN s.card_tech_spend / s.tech_spend_total END
           AS card_share,
       COALESCE(v.n_vendors_it, 0) AS n_vendors_it,
       COALESCE(v.n_vendors_marketing, 0) AS n_vendors_marketing,
       COALESCE(v.n_vendors_other, 0) AS n_vendors_other,
       s.n_lines,
       s.refunds,
       s.uncategorised_spend,
       CAST(NULL AS STRING) AS unmapped_vendor,
       CAST(NULL AS DOUBLE) AS amount,
       CAST(NULL AS BIGINT) AS n_uncategorised
FROM sums s
LEFT JOIN vendor_counts v
       ON s.problem IS NULL AND v.firm_id = s.firm_id AND v.booking_year = s.booking_year
UNION ALL
SELECT 'vendor' AS row_kind,
       u.problem,
       CAST(NULL AS STRING) AS firm_id,
       CAST(NULL AS INT) AS year,
       CAST(NULL AS DOUBLE) AS it_spend,
       CAST(NULL AS DOUBLE) AS marketing_spend,
       CAST(NULL AS DOUBLE) AS martech_spend,
       CAST(NULL AS DOUBLE) AS other_tech_spend,
       CAST(NULL AS DOUBLE) AS tech_spend_total,
       CAST(NULL AS DOUBLE) AS shadow_it_spend,
       CAST(NULL AS DOUBLE) AS shadow_it_share,
       CAST(NULL AS DOUBLE) AS card_share,
       CAST(NULL AS BIGINT) AS n_vendors_it,
       CAST(NULL AS BIGINT) AS n_vendors_marketing,
       CAST(NULL AS BIGINT) AS n_vendors_other,
       u.n_lines,
       CAST(NULL AS DOUBLE) AS refunds,
       CAST(NULL AS DOUBLE) AS uncategorised_spend,
       u.unmapped_vendor,
       u.amount,
       u.n_uncategorised
FROM unmapped u

-- name: ledger_bad_lines
-- Read only when ledger_summary counts bad lines (a second pass over the ledger): per rule the
-- first five examples, plus one row per file with the file's count.
WITH bad AS (
    SELECT problem,
           source_file,
           source_row,
           CAST(raw_firm_id AS STRING) AS raw_firm_id,
           CAST(raw_booking_date AS STRING) AS raw_booking_date,
           CAST(raw_currency AS STRING) AS raw_currency,
           CAST(raw_amount AS STRING) AS raw_amount
    FROM ledger_lines
    WHERE problem IS NOT NULL
),
ranked AS (
    SELECT b.*,
           ROW_NUMBER() OVER (PARTITION BY problem
                              ORDER BY source_file, source_row, raw_firm_id, raw_booking_date,
                                       raw_currency, raw_amount) AS rank_in_rule,
           ROW_NUMBER() OVER (PARTITION BY problem, source_file ORDER BY source_row) AS rank_in_file,
           COUNT(*) OVER (PARTITION BY problem, source_file) AS n_in_file
    FROM bad b
)
SELECT problem, source_file, source_row, raw_firm_id, raw_booking_date, raw_currency, raw_amount,
       rank_in_rule, rank_in_file, n_in_file
FROM ranked
WHERE rank_in_rule <= 5 OR rank_in_file = 1
ORDER BY problem, rank_in_rule
