-- PhysioFlow core schema: therapists, patients and their appointments.
-- Timestamps are timestamptz (stored UTC, shown in Asia/Ho_Chi_Minh by the app).

CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TABLE therapists (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    keycloak_user_id text NOT NULL UNIQUE,
    full_name        text NOT NULL,
    email            text NOT NULL UNIQUE,
    phone            text,
    license_number   text,
    specialty        text,
    is_active        boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE patients (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_code   text NOT NULL UNIQUE,
    full_name      text NOT NULL,
    date_of_birth  date,
    gender         text CHECK (gender IN ('male', 'female', 'other')),
    phone          text,
    email          text,
    address        text,
    national_id    text,
    emergency_contact_name  text,
    emergency_contact_phone text,
    medical_history text,
    is_active      boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX patients_full_name_idx ON patients (lower(full_name));
CREATE INDEX patients_phone_idx ON patients (phone);

CREATE TABLE appointments (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id    uuid NOT NULL REFERENCES patients (id),
    therapist_id  uuid NOT NULL REFERENCES therapists (id),
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'scheduled'
                  CHECK (status IN ('scheduled', 'confirmed', 'checked_in', 'completed', 'cancelled', 'no_show')),
    visit_type    text NOT NULL DEFAULT 'follow_up' CHECK (visit_type IN ('initial', 'follow_up', 'discharge')),
    notes         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);

CREATE INDEX appointments_patient_idx ON appointments (patient_id, starts_at DESC);

CREATE TRIGGER therapists_updated_at BEFORE UPDATE ON therapists FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER patients_updated_at BEFORE UPDATE ON patients FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER appointments_updated_at BEFORE UPDATE ON appointments FOR EACH ROW EXECUTE FUNCTION set_updated_at();
