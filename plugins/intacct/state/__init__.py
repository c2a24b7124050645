"""The state database's plumbing: engines (`db`), the tables (`schema`), their migrations and the SQL files
under `include/` (`sql_files`)."""
