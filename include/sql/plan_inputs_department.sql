-- Project Intacct departments and Forecast departments onto the plan's common columns.
-- key1 = normalised name; v1 = name. "active non-posting" departments are active: they only refuse postings.
INSERT INTO intacct_plan_source (plan_id, intacct_key, recordno, inactive_reason, problem, key1, key2, v1)
SELECT :plan_id, department_id, recordno,
       CASE WHEN status IN ('active', 'active non-posting') THEN NULL
            ELSE 'the department is ' || COALESCE(status, 'without status') || ' in Intacct' END,
       CASE WHEN name_key IS NULL THEN 'the department has no name' END,
       name_key, NULL, fc_name
FROM stg_intacct_department
WHERE batch_id = :batch_id;

INSERT INTO intacct_plan_target (plan_id, forecast_id, key1, key2, v1)
SELECT :plan_id, forecast_id, name_key, NULL, name
FROM stg_forecast_department
WHERE snapshot_id = :snapshot_id;
