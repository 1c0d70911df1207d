-- Noarch builds run once per release (sqlite; keep in step with
-- ../postgres/0014_noarch_once.sql): a chroot of another arch takes the
-- packages the task it names here built, instead of building them again.
ALTER TABLE build_chroots ADD COLUMN built_in INTEGER REFERENCES build_chroots (id);
