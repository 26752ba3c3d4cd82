-- SOAP notes (Subjective, Objective, Assessment, Plan) written per appointment.
-- A signed note is immutable: corrections are new notes that point at the old one.

CREATE TABLE soap_notes (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    appointment_id  uuid NOT NULL REFERENCES appointments (id),
    patient_id      uuid NOT NULL REFERENCES patients (id),
    therapist_id    uuid NOT NULL REFERENCES therapists (id),
    subjective      text,
    objective       text,
    assessment      text,
    plan            text,
    status          text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'signed', 'amended')),
    signed_at       timestamptz,
    amends_note_id  uuid REFERENCES soap_notes (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'draft') = (signed_at IS NULL))
);

CREATE INDEX soap_notes_patient_idx ON soap_notes (patient_id, created_at DESC);
CREATE INDEX soap_notes_appointment_idx ON soap_notes (appointment_id);

CREATE TRIGGER soap_notes_updated_at BEFORE UPDATE ON soap_notes FOR EACH ROW EXECUTE FUNCTION set_updated_at();
