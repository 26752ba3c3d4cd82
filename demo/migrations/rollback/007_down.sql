ALTER TABLE patients DROP COLUMN demo_release_note;
