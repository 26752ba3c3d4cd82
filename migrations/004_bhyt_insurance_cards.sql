-- BHYT (Bảo hiểm y tế, Vietnamese social health insurance) cards.
-- card_number is the 15-character code printed on the card: 2-letter beneficiary
-- group, 1-digit benefit level, 2-digit province, 10-digit social insurance number.

CREATE TABLE bhyt_insurance_cards (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    patient_id              uuid NOT NULL REFERENCES patients (id),
    card_number             text NOT NULL CHECK (card_number ~ '^[A-Z]{2}[1-5][0-9]{2}[0-9]{10}$'),
    benefit_level           smallint NOT NULL CHECK (benefit_level IN (80, 95, 100)),
    registered_facility_code text NOT NULL,
    valid_from              date NOT NULL,
    valid_to                date NOT NULL,
    five_years_continuous_from date,
    verified_at             timestamptz,
    verification_result     jsonb,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to >= valid_from)
);

CREATE UNIQUE INDEX bhyt_insurance_cards_number_idx ON bhyt_insurance_cards (card_number, valid_from);
CREATE INDEX bhyt_insurance_cards_patient_idx ON bhyt_insurance_cards (patient_id, valid_to DESC);

CREATE TRIGGER bhyt_insurance_cards_updated_at BEFORE UPDATE ON bhyt_insurance_cards FOR EACH ROW EXECUTE FUNCTION set_updated_at();

-- Expand step for blue-green: nullable, so the running color keeps inserting patients.
ALTER TABLE patients ADD COLUMN preferred_language text DEFAULT 'vi';
