-- When the builder reported a task's outcome (postgres; keep in step with
-- ../sqlite/0010_reported_on.sql): with ended_on, how long publishing took.
ALTER TABLE build_chroots ADD COLUMN reported_on BIGINT;
