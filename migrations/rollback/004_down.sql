-- Undo 004_bhyt_insurance_cards.sql.
ALTER TABLE patients DROP COLUMN IF EXISTS preferred_language;
DROP TABLE IF EXISTS bhyt_insurance_cards;
