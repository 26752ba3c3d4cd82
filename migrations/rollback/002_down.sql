-- Undo 002_visit_checklists.sql.
DROP TABLE IF EXISTS visit_checklists;
DROP TABLE IF EXISTS checklist_templates;
