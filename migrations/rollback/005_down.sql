-- Undo 005_audit_logs.sql (the audit trail goes with it: export it first in production).
DROP TABLE IF EXISTS audit_logs;
