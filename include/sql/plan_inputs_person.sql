-- Project Intacct users and Forecast people onto the plan's common columns.
-- key1 = lower-cased email (the strong match), key2 = normalised full name (the weak one);
-- v1..v3 = first_name, last_name, email (mapping.PERSON_FIELDS).
INSERT INTO intacct_plan_source (plan_id, intacct_key, recordno, inactive_reason, problem, key1, key2, v1, v2, v3)
SELECT :plan_id, login_id, recordno,
       CASE WHEN login_disabled THEN 'the user cannot sign in to Intacct (login disabled)'
            WHEN status = 'active' THEN NULL
            ELSE 'the user is ' || COALESCE(status, 'without status') || ' in Intacct' END,
       CASE WHEN email_key IS NULL THEN 'the user has no email address in Intacct' END,
       email_key, name_key, fc_first_name, fc_last_name, fc_email
FROM stg_intacct_user
WHERE batch_id = :batch_id;

INSERT INTO intacct_plan_target (plan_id, forecast_id, key1, key2, v1, v2, v3)
SELECT :plan_id, forecast_id, email_key, name_key, first_name, last_name, email
FROM stg_forecast_person
WHERE snapshot_id = :snapshot_id;
