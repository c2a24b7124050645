-- The plan's decisions, the same for every entity type, over intacct_plan_source/target (one plan_id).
-- Parameters: plan_id, entity_type, is_full (1 when the Intacct batch is a full extraction),
-- key1_unique (1 when two Intacct records may not share key1, e.g. users' emails), key1_label/key2_label
-- and key1_confidence/key2_confidence (how matches are described and trusted), f1..f6 (names of v1..v6).
-- Text is cast to TEXT, never to a bounded VARCHAR: PostgreSQL silently cuts a value to the bound and
-- SQLite does not, so the same plan would read differently on the two.

-- 1. Intacct records already linked: in step, changed, inactive, or their Forecast record is gone.
INSERT INTO intacct_plan_row
    (plan_id, intacct_key, intacct_recordno, forecast_id, action, reason, confidence, changed_fields)
SELECT s.plan_id, s.intacct_key, s.recordno, l.forecast_id,
       CASE WHEN t.forecast_id IS NULL THEN 'orphan_link'
            WHEN s.inactive_reason IS NOT NULL THEN 'source_inactive'
            ELSE 'linked' END,
       CASE WHEN t.forecast_id IS NULL THEN 'linked to Forecast record ' || CAST(l.forecast_id AS TEXT) || ', which no longer exists'
            WHEN s.inactive_reason IS NOT NULL THEN 'linked, but ' || s.inactive_reason
            END,
       NULL,
       CASE WHEN t.forecast_id IS NOT NULL THEN NULLIF(RTRIM(
              CASE WHEN COALESCE(s.v1, '') <> COALESCE(t.v1, '') THEN CAST(:f1 AS TEXT) || ',' ELSE '' END
           || CASE WHEN COALESCE(s.v2, '') <> COALESCE(t.v2, '') THEN CAST(:f2 AS TEXT) || ',' ELSE '' END
           || CASE WHEN COALESCE(s.v3, '') <> COALESCE(t.v3, '') THEN CAST(:f3 AS TEXT) || ',' ELSE '' END
           || CASE WHEN COALESCE(s.v4, '') <> COALESCE(t.v4, '') THEN CAST(:f4 AS TEXT) || ',' ELSE '' END
           || CASE WHEN COALESCE(s.v5, '') <> COALESCE(t.v5, '') THEN CAST(:f5 AS TEXT) || ',' ELSE '' END
           || CASE WHEN COALESCE(s.v6, '') <> COALESCE(t.v6, '') THEN CAST(:f6 AS TEXT) || ',' ELSE '' END, ','), '') END
FROM intacct_plan_source s
JOIN intacct_link l ON l.entity_type = :entity_type AND l.intacct_key = s.intacct_key
LEFT JOIN intacct_plan_target t ON t.plan_id = s.plan_id AND t.forecast_id = l.forecast_id
WHERE s.plan_id = :plan_id;

-- 2. Intacct records not linked yet: conflicts are named, matches suggested, the rest importable.
WITH src AS (
    SELECT s.* FROM intacct_plan_source s
    WHERE s.plan_id = :plan_id
      AND NOT EXISTS (SELECT 1 FROM intacct_link l WHERE l.entity_type = :entity_type AND l.intacct_key = s.intacct_key)
), tgt AS (
    SELECT t.* FROM intacct_plan_target t
    WHERE t.plan_id = :plan_id
      AND NOT EXISTS (SELECT 1 FROM intacct_link l WHERE l.entity_type = :entity_type AND l.forecast_id = t.forecast_id)
), both_sides AS (
    SELECT 's' AS side, intacct_key, recordno, inactive_reason, problem, key1, key2, NULL AS forecast_id FROM src
    UNION ALL
    SELECT 't', NULL, NULL, NULL, NULL, key1, key2, forecast_id FROM tgt
), counted AS (
    -- Per match key: how many unlinked Intacct records and free Forecast records share it, and which
    -- Forecast ids. Windows over one sorted set, not joins of aggregates, so the cost stays n log n on
    -- both databases (SQLite's planner would otherwise loop over one aggregate per row).
    SELECT b.*,
           CASE WHEN key1 IS NOT NULL THEN SUM(CASE WHEN side = 's' THEN 1 ELSE 0 END) OVER (PARTITION BY key1) END AS src1_n,
           CASE WHEN key1 IS NOT NULL THEN SUM(CASE WHEN side = 't' THEN 1 ELSE 0 END) OVER (PARTITION BY key1) END AS t1_n,
           CASE WHEN key1 IS NOT NULL THEN MIN(forecast_id) OVER (PARTITION BY key1) END AS t1_id,
           CASE WHEN key1 IS NOT NULL THEN MAX(forecast_id) OVER (PARTITION BY key1) END AS t1_last,
           CASE WHEN key2 IS NOT NULL THEN SUM(CASE WHEN side = 's' THEN 1 ELSE 0 END) OVER (PARTITION BY key2) END AS src2_n,
           CASE WHEN key2 IS NOT NULL THEN SUM(CASE WHEN side = 't' THEN 1 ELSE 0 END) OVER (PARTITION BY key2) END AS t2_n,
           CASE WHEN key2 IS NOT NULL THEN MIN(forecast_id) OVER (PARTITION BY key2) END AS t2_id,
           CASE WHEN key2 IS NOT NULL THEN MAX(forecast_id) OVER (PARTITION BY key2) END AS t2_last
    FROM both_sides b
), matched AS (
    SELECT intacct_key, recordno, inactive_reason, problem,
           src1_n, t1_n, t1_id, t1_last, src2_n, t2_n, t2_id, t2_last
    FROM counted
    WHERE side = 's'
), decided AS (
    SELECT m.*,
           CASE
               WHEN problem IS NOT NULL THEN 'problem'
               WHEN :key1_unique = 1 AND src1_n > 1 THEN 'shared_key1'
               WHEN t1_n > 1 THEN 'many_key1'
               WHEN t1_n = 1 AND src1_n > 1 THEN 'contested_key1'
               WHEN t1_n = 1 THEN 'match_key1'
               WHEN t2_n > 1 THEN 'many_key2'
               WHEN t2_n = 1 AND src2_n > 1 THEN 'contested_key2'
               WHEN t2_n = 1 THEN 'match_key2'
               ELSE 'none'
           END AS verdict
    FROM matched m
)
INSERT INTO intacct_plan_row
    (plan_id, intacct_key, intacct_recordno, forecast_id, action, reason, confidence, changed_fields)
SELECT :plan_id, intacct_key, recordno,
       CASE verdict WHEN 'match_key1' THEN t1_id WHEN 'match_key2' THEN t2_id END,
       CASE WHEN verdict IN ('problem', 'shared_key1', 'many_key1', 'contested_key1', 'many_key2', 'contested_key2')
                THEN 'conflict'
            WHEN inactive_reason IS NOT NULL THEN 'source_inactive'
            WHEN verdict IN ('match_key1', 'match_key2') THEN 'suggest_link'
            ELSE 'importable' END,
       CASE verdict
            WHEN 'problem' THEN problem
            WHEN 'shared_key1' THEN 'shares its ' || CAST(:key1_label AS TEXT) || ' with ' || CAST(src1_n - 1 AS TEXT) || ' other Intacct record(s)'
            WHEN 'many_key1' THEN CAST(t1_n AS TEXT) || ' Forecast records have the same ' || CAST(:key1_label AS TEXT)
                 || ' (ids ' || CAST(t1_id AS TEXT) || ' to ' || CAST(t1_last AS TEXT) || '): link it by hand'
            WHEN 'contested_key1' THEN CAST(src1_n AS TEXT) || ' Intacct records have the ' || CAST(:key1_label AS TEXT)
                 || ' of Forecast record ' || CAST(t1_id AS TEXT) || ': link it by hand'
            WHEN 'many_key2' THEN CAST(t2_n AS TEXT) || ' Forecast records have the same ' || CAST(:key2_label AS TEXT)
                 || ' (ids ' || CAST(t2_id AS TEXT) || ' to ' || CAST(t2_last AS TEXT) || '): link it by hand'
            WHEN 'contested_key2' THEN CAST(src2_n AS TEXT) || ' Intacct records have the ' || CAST(:key2_label AS TEXT)
                 || ' of Forecast record ' || CAST(t2_id AS TEXT) || ': link it by hand'
            WHEN 'match_key1' THEN COALESCE(inactive_reason || '; ', '') || 'same ' || CAST(:key1_label AS TEXT) || ' as Forecast record ' || CAST(t1_id AS TEXT)
            WHEN 'match_key2' THEN COALESCE(inactive_reason || '; ', '') || 'same ' || CAST(:key2_label AS TEXT) || ' as Forecast record ' || CAST(t2_id AS TEXT)
            ELSE inactive_reason
       END,
       CASE verdict WHEN 'match_key1' THEN CAST(:key1_confidence AS FLOAT) WHEN 'match_key2' THEN CAST(:key2_confidence AS FLOAT) END,
       NULL
FROM decided;

-- 3. Links whose Intacct record is not in the batch: deleted in Intacct (only a full batch can say so),
--    or orphaned when the Forecast record is gone too.
INSERT INTO intacct_plan_row
    (plan_id, intacct_key, intacct_recordno, forecast_id, action, reason, confidence, changed_fields)
SELECT :plan_id, l.intacct_key, l.intacct_recordno, l.forecast_id,
       CASE WHEN t.forecast_id IS NULL THEN 'orphan_link' ELSE 'source_deleted' END,
       CASE WHEN t.forecast_id IS NULL THEN 'linked to Forecast record ' || CAST(l.forecast_id AS TEXT) || ', which no longer exists'
            ELSE 'no longer exists in Intacct' END,
       NULL, NULL
FROM intacct_link l
LEFT JOIN intacct_plan_target t ON t.plan_id = :plan_id AND t.forecast_id = l.forecast_id
WHERE l.entity_type = :entity_type
  AND NOT EXISTS (SELECT 1 FROM intacct_plan_source s WHERE s.plan_id = :plan_id AND s.intacct_key = l.intacct_key)
  AND (:is_full = 1 OR t.forecast_id IS NULL);
