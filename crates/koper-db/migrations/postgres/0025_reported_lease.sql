-- The lease under which a task's outcome was reported (postgres; keep in step
-- with ../sqlite/0025_reported_lease.sql). The lease itself is
-- cleared when the task ends, but a builder may still send logs that come
-- after the outcome (rpmlint's findings), and only under this lease.
ALTER TABLE build_chroots ADD COLUMN reported_lease_id TEXT;
