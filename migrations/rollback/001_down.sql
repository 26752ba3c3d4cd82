-- Undo 001_initial_schema.sql: drops every core table and its data.
DROP TABLE IF EXISTS appointments;
DROP TABLE IF EXISTS patients;
DROP TABLE IF EXISTS therapists;
DROP FUNCTION IF EXISTS set_updated_at();
