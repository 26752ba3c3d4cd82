import { Client } from "pg";

/** A few rows in every seeded table, with Vietnamese text to catch encoding problems. */
export async function insertClinicData(client: Client): Promise<void> {
    await client.query(`
        INSERT INTO therapists (id, keycloak_user_id, full_name, email, license_number)
        VALUES ('11111111-1111-4111-8111-111111111111', 'kc-therapist-1', 'Nguyễn Thị Hương', 'huong@physioflow.local', 'VN-PT-0001');
        INSERT INTO patients (id, patient_code, full_name, date_of_birth, gender, phone, address)
        VALUES ('22222222-2222-4222-8222-222222222222', 'BN-0001', 'Trần Văn Bình', '1968-03-14', 'male', '0903123456', '12 Lê Lợi, Quận 1, TP. Hồ Chí Minh'),
               ('33333333-3333-4333-8333-333333333333', 'BN-0002', 'Lê Thị Mai', '1990-11-02', 'female', '0912345678', 'Hà Nội');
        INSERT INTO appointments (id, patient_id, therapist_id, starts_at, ends_at, status, visit_type)
        VALUES ('44444444-4444-4444-8444-444444444444', '22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111',
                '2026-02-10 09:00+07', '2026-02-10 09:45+07', 'completed', 'initial');
        INSERT INTO checklist_templates (id, name, visit_type, items)
        VALUES ('55555555-5555-4555-8555-555555555555', 'Khám lần đầu', 'initial', '["pain_score", "range_of_motion"]');
        INSERT INTO visit_checklists (appointment_id, template_id, therapist_id, responses, pain_score, completed_at)
        VALUES ('44444444-4444-4444-8444-444444444444', '55555555-5555-4555-8555-555555555555', '11111111-1111-4111-8111-111111111111',
                '{"range_of_motion": "giảm 30%"}', 6, '2026-02-10 09:40+07');
        INSERT INTO soap_notes (appointment_id, patient_id, therapist_id, subjective, objective, assessment, plan, status, signed_at)
        VALUES ('44444444-4444-4444-8444-444444444444', '22222222-2222-4222-8222-222222222222', '11111111-1111-4111-8111-111111111111',
                'Đau thắt lưng 3 tuần', 'Hạn chế gập người', 'Thoát vị đĩa đệm L4-L5 nghi ngờ', 'Vật lý trị liệu 2 buổi/tuần', 'signed', now());
        INSERT INTO bhyt_insurance_cards (patient_id, card_number, benefit_level, registered_facility_code, valid_from, valid_to)
        VALUES ('22222222-2222-4222-8222-222222222222', 'DN4790123456789', 80, '79-001', '2026-01-01', '2026-12-31');
        INSERT INTO audit_logs (actor_id, action, entity_type, entity_id, patient_id, changes)
        VALUES ('kc-therapist-1', 'sign', 'soap_note', 'n-1', '22222222-2222-4222-8222-222222222222', '{"status": ["draft", "signed"]}');
    `);
}

/** Every row of every table in public, ordered, as JSON: equal snapshots mean equal data. */
export async function snapshot(client: Client): Promise<Record<string, unknown[]>> {
    const tables = (await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map(r => r.tablename as string);
    const result: Record<string, unknown[]> = {};
    for (const table of tables) {
        const rows = (await client.query(`SELECT * FROM "${table}"`)).rows.map(row => JSON.stringify(row)).sort();
        result[table] = rows;
    }
    return result;
}
