-- Firm-year spend features from transaction ledgers (helpers.spend).
--
-- Portable SQL: DuckDB runs it today and Spark SQL must run it unchanged later, so this file avoids
-- engine-only syntax (no ASOF JOIN, QUALIFY, '::' casts, strftime, list/struct functions, lateral
-- column aliases, subqueries inside CASE). TRY_CAST needs Spark 3.2 or later.
--
-- The file is a chain of named views. Each "-- name: <view>" line starts one definition; the engine
-- layer creates them in order (DuckDB: CREATE TEMP VIEW <view> AS ...; Spark: createOrReplaceTempView)
-- and reads ledger_summary, a small table that holds everything but the bad-line examples: the
-- ledger is read twice (once for its distinct text values, ledger_text_values, which the DuckDB
-- engine stores as a small temporary table; once line by line), and a third time
-- (ledger_bad_lines) only when some lines are bad.
--
-- Why the shape: normalising the six text columns (TRIM, LOWER, UPPER) on every line cost about a
-- third of the run, and grouping on the normalised (no longer dictionary-encoded) strings more. The
-- text columns hold few distinct values, so ledger_text_values lists each column's distinct raw
-- values once (one pass, GROUPING SETS), the small views after it classify them (vendor map,
-- categories, cost centre and payment method rules, currency codes), and each line only joins
-- its raw values to them. Lines are summed per firm id as written; the few summed rows are then
-- trimmed and the spellings of one firm added up. (Summing per firm, month and currency first
-- and converting the sums was measured slower: 14,000 groups of ten sums instead of 1,200.)
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
--   fx_rates(currency, month_index, rate)     rate from the currency into the reporting currency,
--                                             one row per currency and month from the currency's
--                                             first FX month to the FX table's last month; a month
--                                             missing from the FX table already holds the most
--                                             recent earlier rate (the as-of rule is applied by
--                                             the engine layer to this table of a few hundred
--                                             rows, not per ledger line: helpers.spend.fx_rates).
--                                             month_index = year * 12 + month - 1
--   vendors(vendor_key, vendor_category)      lower-cased vendor name -> category (unique keys)
-- Parameters ({{name}}) are replaced by quoted SQL literals (lists for IN) before running:
--   currency, it_cost_centers, tech_categories, shadow_categories, sanctioned_payment_methods,
--   card_payment_methods, marketing_cost_center — all lower case except currency;
--   known_currencies (the FX table's codes, upper case) and last_month (the FX table's last
--   month_index: a booking after it takes that month's rate).

-- name: ledger_text_values
-- The distinct raw (as read) values of each text column that classifies a line, one row per column
-- and value (value_of names the column): a few hundred rows however long the ledger. Read once; the
-- views below classify them.
SELECT CASE WHEN GROUPING(currency) = 0 THEN 'currency'
            WHEN GROUPING(cost_center) = 0 THEN 'cost_center'
            WHEN GROUPING(payment_method) = 0 THEN 'payment_method'
            WHEN GROUPING(vendor) = 0 THEN 'vendor'
            ELSE 'vendor_category'
       END AS value_of,
       currency AS raw_currency,
       cost_center AS raw_cost_center,
       payment_method AS raw_payment_method,
       vendor AS raw_vendor,
       vendor_category AS raw_vendor_category
FROM ledger
GROUP BY GROUPING SETS ((currency), (cost_center), (payment_method), (vendor), (vendor_category))

-- name: ledger_currencies
-- Per currency as written: currency_id (a number per row), its code (trimmed, upper case), whether
-- it is the reporting currency and whether the FX table knows it.
WITH coded AS (
    SELECT raw_currency, UPPER(TRIM(CAST(raw_currency AS STRING))) AS currency
    FROM ledger_text_values
    WHERE value_of = 'currency'
)
SELECT c.raw_currency,
       ROW_NUMBER() OVER (ORDER BY c.raw_currency) AS currency_id,
       c.currency,
       CASE WHEN c.currency = {{currency}} THEN 1 ELSE 0 END AS is_target,
       CASE WHEN COALESCE(c.currency, '') = {{currency}}
                 OR COALESCE(c.currency IN ({{known_currencies}}), FALSE) THEN 1 ELSE 0
       END AS is_known
FROM coded c

-- name: ledger_vendors
-- Per vendor name as written: the name (trimmed; NULL when blank), vendor_id (one number per
-- lower-cased name, NULL without a name), name_id (one number per row), and the vendor map's
-- category as flags (is_mapped 0: the map does not know the vendor, the ledger's category counts).
WITH named AS (
    SELECT raw_vendor,
           NULLIF(TRIM(CAST(raw_vendor AS STRING)), '') AS vendor,
           LOWER(NULLIF(TRIM(CAST(raw_vendor AS STRING)), '')) AS vendor_key
    FROM ledger_text_values
    WHERE value_of = 'vendor'
)
SELECT n.raw_vendor,
       n.vendor,
       CASE WHEN n.vendor_key IS NOT NULL THEN DENSE_RANK() OVER (ORDER BY n.vendor_key) END
           AS vendor_id,
       ROW_NUMBER() OVER (ORDER BY n.raw_vendor) AS name_id,
       CASE WHEN v.vendor_category IS NULL THEN 0 ELSE 1 END AS is_mapped,
       COALESCE(v.vendor_category IN ({{tech_categories}}), FALSE) AS is_tech,
       COALESCE(v.vendor_category IN ({{shadow_categories}}), FALSE) AS is_shadow_category
FROM named n
LEFT JOIN vendors v ON v.vendor_key = n.vendor_key

-- name: ledger_categories
-- Per ledger category as written (used when the vendor map does not know the vendor): whether
-- there is one (blank is none: the line is uncategorised) and its flags.
WITH named AS (
    SELECT raw_vendor_category,
           LOWER(NULLIF(TRIM(CAST(raw_vendor_category AS STRING)), '')) AS category
    FROM ledger_text_values
    WHERE value_of = 'vendor_category'
)
SELECT raw_vendor_category,
       CASE WHEN category IS NULL THEN 1 ELSE 0 END AS is_uncategorised,
       COALESCE(category IN ({{tech_categories}}), FALSE) AS is_tech,
       COALESCE(category IN ({{shadow_categories}}), FALSE) AS is_shadow_category
FROM named

-- name: ledger_cost_centers
-- Per cost centre as written: function (1 IT, 2 Marketing, 3 any other cost centre: codes, cheaper
-- to compare and group on every line than names), Marketing, IT.
WITH named AS (
    SELECT raw_cost_center, LOWER(TRIM(CAST(raw_cost_center AS STRING))) AS cost_center
    FROM ledger_text_values
    WHERE value_of = 'cost_center'
)
SELECT raw_cost_center,
       CASE WHEN COALESCE(cost_center IN ({{it_cost_centers}}), FALSE) THEN 1
            WHEN cost_center = {{marketing_cost_center}} THEN 2
            ELSE 3
       END AS fn_class,
       COALESCE(cost_center = {{marketing_cost_center}}, FALSE) AS is_marketing,
       COALESCE(cost_center IN ({{it_cost_centers}}), FALSE) AS is_it
FROM named

-- name: ledger_payment_methods
-- Per payment method as written: through procurement (sanctioned: never shadow IT; a blank method
-- is not), by card.
WITH named AS (
    SELECT raw_payment_method, LOWER(TRIM(CAST(raw_payment_method AS STRING))) AS payment_method
    FROM ledger_text_values
    WHERE value_of = 'payment_method'
)
SELECT raw_payment_method,
       COALESCE(COALESCE(payment_method, '') IN ({{sanctioned_payment_methods}}), FALSE)
           AS is_sanctioned,
       COALESCE(payment_method IN ({{card_payment_methods}}), FALSE) AS is_card
FROM named

-- name: ledger_rates
-- The rate per currency as written (currency_id) and month: fx_rates keyed by the small number.
SELECT c.currency_id, r.month_index, r.rate
FROM ledger_currencies c
JOIN fx_rates r ON r.currency = c.currency

-- name: ledger_lines
-- One row per ledger line: the firm id as written, booking year, the amount in the reporting
-- currency, the classes of its text values (joined by their raw values) and the first broken rule
-- (problem: a code, NULL for a usable line). raw_* keep the values as read, for the bad-line
-- examples (cast to text only after filtering, which keeps the main pass cheap).
WITH joined AS (
    SELECT l.firm_id AS raw_firm_id,
           TRY_CAST(l.booking_date AS DATE) AS booking_date,
           TRY_CAST(l.amount AS DOUBLE) AS amount,
           l.currency AS raw_currency,
           c.currency_id,
           c.is_target,
           c.is_known,
           v.name_id,
           v.vendor_id,
           v.is_mapped,
           CASE WHEN v.is_mapped = 1 THEN 0 ELSE g.is_uncategorised END AS is_uncategorised,
           CASE WHEN v.is_mapped = 1 THEN v.is_tech ELSE g.is_tech END AS is_tech,
           CASE WHEN v.is_mapped = 1 THEN v.is_shadow_category ELSE g.is_shadow_category END
               AS is_shadow_category,
           k.fn_class,
           k.is_marketing,
           k.is_it,
           p.is_sanctioned,
           p.is_card,
           l.raw_booking_date,
           l.raw_amount,
           l.source_file,
           l.source_row
    FROM ledger l
    LEFT JOIN ledger_currencies c ON c.raw_currency IS NOT DISTINCT FROM l.currency
    LEFT JOIN ledger_vendors v ON v.raw_vendor IS NOT DISTINCT FROM l.vendor
    LEFT JOIN ledger_categories g ON g.raw_vendor_category IS NOT DISTINCT FROM l.vendor_category
    LEFT JOIN ledger_cost_centers k ON k.raw_cost_center IS NOT DISTINCT FROM l.cost_center
    LEFT JOIN ledger_payment_methods p
           ON p.raw_payment_method IS NOT DISTINCT FROM l.payment_method
),
keyed AS (
    SELECT j.*,
           EXTRACT(YEAR FROM j.booking_date) AS booking_year,
           EXTRACT(YEAR FROM j.booking_date) * 12 + EXTRACT(MONTH FROM j.booking_date) - 1
               AS month_index
    FROM joined j
),
priced AS (
    SELECT k.*,
           CASE WHEN k.is_target = 1 THEN 1.0 ELSE r.rate END AS rate
    FROM keyed k
    LEFT JOIN ledger_rates r
           ON r.currency_id = k.currency_id
          AND r.month_index = LEAST(k.month_index, {{last_month}})
)
SELECT raw_firm_id,
       booking_year,
       amount * rate AS amount_conv,
       name_id,
       vendor_id,
       is_mapped,
       is_uncategorised,
       is_tech,
       fn_class,
       is_marketing,
       NOT is_it AND is_shadow_category AND NOT is_sanctioned AS is_shadow,
       is_card,
       -- First broken rule wins, so the counts add up to the number of excluded lines. The rule is
       -- a code here (1 missing-firm-id, 2 bad-date, 3 bad-amount, 4 unknown-currency,
       -- 5 no-fx-rate), named in the small outputs below. The trimmed firm id is only tested here
       -- (lines are grouped by the id as written, which is cheaper).
       -- NOT (ABS(amount) <= 1.0E300) catches NaN and +/-infinity in DuckDB and Spark alike.
       CASE WHEN NULLIF(TRIM(CAST(raw_firm_id AS STRING)), '') IS NULL THEN 1
            WHEN booking_date IS NULL THEN 2
            WHEN amount IS NULL OR NOT (ABS(amount) <= 1.0E300) THEN 3
            WHEN is_known = 0 THEN 4
            WHEN rate IS NULL THEN 5
       END AS problem,
       raw_currency,
       raw_booking_date,
       raw_amount,
       source_file,
       source_row
FROM priced

-- name: ledger_summary
-- The one pass over the ledger lines (DuckDB streams the shared CTE `lines` to all its consumers).
-- The engine layer splits this small table by row_kind:
--   'firm_year' rows: net sums per problem, firm and year. Those with problem IS NULL are the
--                     features; the others count the excluded lines per broken rule.
--   'vendor' rows:    per problem and vendor name that the vendor map does not know
--                     (unmapped_vendor; '' for a missing name): n_lines, amount, n_uncategorised.
-- Lines are summed per firm id as written; `sums` trims the ids of those few rows and adds up the
-- spellings of one firm. Refunds are negative amounts and net out in every sum. The distinct
-- technology vendors per function come from one DISTINCT over the usable lines (cheaper than three
-- COUNT(DISTINCT ...)).
WITH lines AS (
    SELECT * FROM ledger_lines
),
raw_sums AS (
    SELECT problem,
           raw_firm_id,
           booking_year,
           SUM(CASE WHEN fn_class = 1 AND is_tech THEN amount_conv ELSE 0.0 END) AS it_spend,
           SUM(CASE WHEN is_marketing THEN amount_conv ELSE 0.0 END) AS marketing_spend,
           SUM(CASE WHEN fn_class = 2 AND is_tech THEN amount_conv ELSE 0.0 END)
               AS martech_spend,
           SUM(CASE WHEN fn_class = 3 AND is_tech THEN amount_conv ELSE 0.0 END)
               AS other_tech_spend,
           SUM(CASE WHEN is_tech THEN amount_conv ELSE 0.0 END) AS tech_spend_total,
           SUM(CASE WHEN is_shadow THEN amount_conv ELSE 0.0 END) AS shadow_it_spend,
           SUM(CASE WHEN is_tech AND is_card THEN amount_conv ELSE 0.0 END)
               AS card_tech_spend,
           SUM(CASE WHEN is_uncategorised = 1 THEN amount_conv ELSE 0.0 END)
               AS uncategorised_spend,
           SUM(CASE WHEN amount_conv < 0 THEN -amount_conv ELSE 0.0 END) AS refunds,
           COUNT(*) AS n_lines
    FROM lines
    GROUP BY problem, raw_firm_id, booking_year
),
sums AS (
    SELECT problem,
           NULLIF(TRIM(CAST(raw_firm_id AS STRING)), '') AS firm_id,
           booking_year,
           SUM(it_spend) AS it_spend,
           SUM(marketing_spend) AS marketing_spend,
           SUM(martech_spend) AS martech_spend,
           SUM(other_tech_spend) AS other_tech_spend,
           SUM(tech_spend_total) AS tech_spend_total,
           SUM(shadow_it_spend) AS shadow_it_spend,
           SUM(card_tech_spend) AS card_tech_spend,
           SUM(uncategorised_spend) AS uncategorised_spend,
           SUM(refunds) AS refunds,
           CAST(SUM(n_lines) AS BIGINT) AS n_lines
    FROM raw_sums
    GROUP BY problem, NULLIF(TRIM(CAST(raw_firm_id AS STRING)), ''), booking_year
),
tech_vendors AS (
    SELECT DISTINCT NULLIF(TRIM(CAST(raw_firm_id AS STRING)), '') AS firm_id,
           booking_year,
           fn_class,
           vendor_id
    FROM (SELECT DISTINCT raw_firm_id, booking_year, fn_class, vendor_id
          FROM lines
          WHERE problem IS NULL AND is_tech AND vendor_id IS NOT NULL) d
),
vendor_counts AS (
    SELECT firm_id,
           booking_year,
           CAST(SUM(CASE WHEN fn_class = 1 THEN 1 ELSE 0 END) AS BIGINT) AS n_vendors_it,
           CAST(SUM(CASE WHEN fn_class = 2 THEN 1 ELSE 0 END) AS BIGINT)
               AS n_vendors_marketing,
           CAST(SUM(CASE WHEN fn_class = 3 THEN 1 ELSE 0 END) AS BIGINT) AS n_vendors_other
    FROM tech_vendors
    GROUP BY firm_id, booking_year
),
unmapped_names AS (
    SELECT problem,
           name_id,
           COUNT(*) AS n_lines,
           SUM(amount_conv) AS amount,
           SUM(is_uncategorised) AS n_uncategorised
    FROM lines
    WHERE is_mapped = 0
    GROUP BY problem, name_id
),
unmapped AS (
    SELECT u.problem,
           COALESCE(v.vendor, '') AS unmapped_vendor,
           CAST(SUM(u.n_lines) AS BIGINT) AS n_lines,
           SUM(u.amount) AS amount,
           CAST(SUM(u.n_uncategorised) AS BIGINT) AS n_uncategorised
    FROM unmapped_names u
    JOIN ledger_vendors v ON v.name_id = u.name_id
    GROUP BY u.problem, COALESCE(v.vendor, '')
)
SELECT 'firm_year' AS row_kind,
       CASE s.problem WHEN 1 THEN 'missing-firm-id' WHEN 2 THEN 'bad-date' WHEN 3 THEN 'bad-amount'
                 WHEN 4 THEN 'unknown-currency' WHEN 5 THEN 'no-fx-rate' END AS problem,
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
       CASE u.problem WHEN 1 THEN 'missing-firm-id' WHEN 2 THEN 'bad-date' WHEN 3 THEN 'bad-amount'
                 WHEN 4 THEN 'unknown-currency' WHEN 5 THEN 'no-fx-rate' END AS problem,
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
SELECT CASE problem WHEN 1 THEN 'missing-firm-id' WHEN 2 THEN 'bad-date' WHEN 3 THEN 'bad-amount'
            WHEN 4 THEN 'unknown-currency' WHEN 5 THEN 'no-fx-rate' END AS problem,
       source_file, source_row, raw_firm_id, raw_booking_date, raw_currency, raw_amount,
       rank_in_rule, rank_in_file, n_in_file
FROM ranked
WHERE rank_in_rule <= 5 OR rank_in_file = 1
ORDER BY problem, rank_in_rule
