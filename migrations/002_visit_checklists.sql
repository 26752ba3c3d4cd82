-- Visit checklists: a template of items per visit type, and the answers
-- a therapist records for one appointment.

CREATE TABLE checklist_templates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    visit_type  text NOT NULL CHECK (visit_type IN ('initial', 'follow_up', 'discharge')),
    items       jsonb NOT NULL DEFAULT '[]'::jsonb,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE visit_checklists (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id  uuid NOT NULL REFERENCES appointments (id) ON DELETE CASCADE,
    template_id     uuid NOT NULL REFERENCES checklist_templates (id),
    therapist_id    uuid NOT NULL REFERENCES therapists (id),
    responses       jsonb NOT NULL DEFAULT '{}'::jsonb,
    pain_score      smallint CHECK (pain_score BETWEEN 0 AND 10),
    completed_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (appointment_id, template_id)
);

CREATE TRIGGER checklist_templates_updated_at BEFORE UPDATE ON checklist_templates FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER visit_checklists_updated_at BEFORE UPDATE ON visit_checklists FOR EACH ROW EXECUTE FUNCTION set_updated_at();
