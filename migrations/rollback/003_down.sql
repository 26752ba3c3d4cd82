-- Undo 003_soap_notes.sql.
DROP TABLE IF EXISTS soap_notes;
