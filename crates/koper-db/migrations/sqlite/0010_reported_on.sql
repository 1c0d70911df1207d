-- When the builder reported a task's outcome (sqlite; keep in step with
-- ../postgres/0010_reported_on.sql): with ended_on, how long publishing took.
ALTER TABLE build_chroots ADD COLUMN reported_on INTEGER;
