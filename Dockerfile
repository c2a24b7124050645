# The pipeline's image: Airflow with this project's lock, DAGs, library and SQL (docker-compose.yaml builds it).
# The tag's Airflow version is the apache-airflow pin in requirements.txt (tests/deploy/test_compose.py checks).
FROM apache/airflow:3.3.2-python3.11 AS production

# The lock before the code, so a change to the code does not reinstall every package; `pip check` fails
# the build when the lock and the packages the base image ships do not agree.
COPY --chown=airflow:0 requirements.txt /opt/airflow/requirements.txt
RUN pip install --no-cache-dir -r /opt/airflow/requirements.txt && pip check

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
# `intacct` is imported from the plugins folder; its SQL and migrations are found in include/ beside it.
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 include/ /opt/airflow/include/

# airflow-init writes the generated secrets here; a new named volume takes this folder's owner and mode,
# so any AIRFLOW_UID in group 0 can write (init) and read (every service) them.
RUN mkdir -p /opt/airflow/secrets && chmod 0770 /opt/airflow/secrets

# The optional `sandbox` compose profile: the production image plus the two stand-ins.
FROM production AS sandbox
COPY --chown=airflow:0 sandbox/ /opt/airflow/sandbox/
