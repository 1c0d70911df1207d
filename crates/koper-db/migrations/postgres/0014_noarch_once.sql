-- Noarch builds run once per release (postgres; keep in step with
-- ../sqlite/0014_noarch_once.sql): a chroot of another arch takes the
-- packages the task it names here built, instead of building them again.
ALTER TABLE build_chroots ADD COLUMN built_in BIGINT REFERENCES build_chroots (id);
