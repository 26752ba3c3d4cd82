-- Audit trail of who read or changed patient data (the runbook's
-- post-deployment check reads: SELECT * FROM audit_logs ORDER BY created_at DESC).

CREATE TABLE audit_logs (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    actor_id     text NOT NULL,
    actor_role   text,
    action       text NOT NULL CHECK (action IN ('create', 'read', 'update', 'delete', 'sign', 'export', 'login')),
    entity_type  text NOT NULL,
    entity_id    text,
    patient_id   uuid REFERENCES patients (id),
    changes      jsonb,
    ip_address   inet,
    user_agent   text,
    request_id   text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX audit_logs_created_at_idx ON audit_logs (created_at DESC);
CREATE INDEX audit_logs_entity_idx ON audit_logs (entity_type, entity_id);
CREATE INDEX audit_logs_patient_idx ON audit_logs (patient_id, created_at DESC) WHERE patient_id IS NOT NULL;
