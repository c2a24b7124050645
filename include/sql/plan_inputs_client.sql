-- Project Intacct customers and Forecast clients onto the plan's common columns.
-- key1 = normalised name; v1..v6 = name, street, zip, city, country, vat_number (mapping.CLIENT_FIELDS).
INSERT INTO intacct_plan_source
    (plan_id, intacct_key, recordno, inactive_reason, problem, key1, key2, v1, v2, v3, v4, v5, v6)
SELECT :plan_id, customer_id, recordno,
       CASE WHEN status = 'active' THEN NULL ELSE 'the customer is ' || COALESCE(status, 'without status') || ' in Intacct' END,
       CASE WHEN name_key IS NULL THEN 'the customer has no name' END,
       name_key, NULL, fc_name, fc_street, fc_zip, fc_city, fc_country, fc_vat_number
FROM stg_intacct_customer
WHERE batch_id = :batch_id;

INSERT INTO intacct_plan_target (plan_id, forecast_id, key1, key2, v1, v2, v3, v4, v5, v6)
SELECT :plan_id, forecast_id, name_key, NULL, name, street, zip, city, country, vat_number
FROM stg_forecast_client
WHERE snapshot_id = :snapshot_id;
