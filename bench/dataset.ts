/**
 * The benchmark's data set: the PhysioFlow schema (migrations/) filled with generated clinic data,
 * the same bytes on every run for a given size. Every value is derived from the row number through
 * md5, never from random() or now(), so two runs dump the same rows.
 */
import { Client } from "pg";

/** Patients per MB of database: 1.5 M patients made the issue's 775 MB database. */
const PATIENTS_PER_MB = 1_500_000 / 775;

/** Rows of each table for a database of about `sizeMb` MB (indexes included). */
export function datasetRows(sizeMb: number): { therapists: number; patients: number; appointments: number; soapNotes: number; auditLogs: number } {
    const patients = Math.max(1000, Math.round((sizeMb * PATIENTS_PER_MB) / 4));
    return { therapists: 200, patients, appointments: patients * 2, soapNotes: patients, auditLogs: patients * 2 };
}

/**
 * Fills an empty database that is already migrated to the newest version. Ids are md5-derived
 * uuids, timestamps are offsets from a fixed date, text is hex from md5 (it compresses about as
 * badly as real notes do, so pg_dump's compression is not flattered).
 */
export async function fillDataset(client: Client, sizeMb: number): Promise<void> {
    const rows = datasetRows(sizeMb);
    const uuid = (prefix: string, expr: string) => `md5('${prefix}' || ${expr})::uuid`;
    await client.query(`
        SET synchronous_commit = off;
        INSERT INTO therapists (id, keycloak_user_id, full_name, email, license_number, specialty, created_at, updated_at)
        SELECT ${uuid("t", "i")}, 'kc-' || i, 'Therapist ' || i, 'therapist' || i || '@physioflow.local', 'VN-PT-' || lpad(i::text, 4, '0'),
               (ARRAY['spine', 'sports', 'neuro', 'geriatric'])[1 + i % 4], '2024-01-01'::timestamptz, '2024-01-01'::timestamptz
        FROM generate_series(1, ${rows.therapists}) AS i;

        INSERT INTO patients (id, patient_code, full_name, date_of_birth, gender, phone, email, address, national_id, medical_history, created_at, updated_at)
        SELECT ${uuid("p", "i")}, 'BN-' || lpad(i::text, 8, '0'),
               (ARRAY['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng'])[1 + i % 5] || ' ' || (ARRAY['Văn', 'Thị', 'Minh', 'Hữu'])[1 + (i / 5) % 4] || ' ' || substr(md5('n' || i), 1, 6),
               '1940-01-01'::date + ((i::bigint * 7919) % 25000)::int, (ARRAY['male', 'female', 'other'])[1 + i % 3],
               '09' || lpad(((i::bigint * 104729) % 100000000)::text, 8, '0'), 'p' || i || '@example.invalid',
               (i % 300) || ' Lê Lợi, Quận ' || (1 + i % 12) || ', TP. Hồ Chí Minh', lpad(((i::bigint * 15485863) % 1000000000000)::text, 12, '0'),
               md5('h1' || i) || ' ' || md5('h2' || i) || ' ' || md5('h3' || i),
               '2020-01-01'::timestamptz + (i % 100000) * interval '15 minutes', '2024-01-01'::timestamptz
        FROM generate_series(1, ${rows.patients}) AS i;

        INSERT INTO appointments (id, patient_id, therapist_id, starts_at, ends_at, status, visit_type, notes, created_at, updated_at)
        SELECT ${uuid("a", "i")}, ${uuid("p", `(1 + i % ${rows.patients})`)}, ${uuid("t", `(1 + i % ${rows.therapists})`)},
               '2022-01-01'::timestamptz + i * interval '7 minutes', '2022-01-01'::timestamptz + i * interval '7 minutes' + interval '45 minutes',
               (ARRAY['scheduled', 'confirmed', 'completed', 'cancelled', 'no_show'])[1 + i % 5], (ARRAY['initial', 'follow_up', 'discharge'])[1 + i % 3],
               md5('an' || i), '2022-01-01'::timestamptz, '2022-01-01'::timestamptz
        FROM generate_series(1, ${rows.appointments}) AS i;

        INSERT INTO soap_notes (id, appointment_id, patient_id, therapist_id, subjective, objective, assessment, plan, status, signed_at, created_at, updated_at)
        SELECT ${uuid("s", "i")}, ${uuid("a", "i")}, ${uuid("p", `(1 + i % ${rows.patients})`)}, ${uuid("t", `(1 + i % ${rows.therapists})`)},
               'Đau thắt lưng ' || md5('s' || i), 'Hạn chế gập người ' || md5('o' || i), md5('as' || i), 'Vật lý trị liệu ' || md5('pl' || i),
               'signed', '2023-01-01'::timestamptz, '2023-01-01'::timestamptz, '2023-01-01'::timestamptz
        FROM generate_series(1, ${rows.soapNotes}) AS i;

        INSERT INTO audit_logs (id, actor_id, action, entity_type, entity_id, patient_id, changes, request_id, created_at)
        OVERRIDING SYSTEM VALUE
        SELECT i, 'kc-' || (1 + i % ${rows.therapists}), (ARRAY['create', 'read', 'update', 'sign'])[1 + i % 4], 'soap_note', md5('e' || i),
               ${uuid("p", `(1 + i % ${rows.patients})`)}, jsonb_build_object('field', md5('c' || i)), md5('r' || i),
               '2023-01-01'::timestamptz + i * interval '1 second'
        FROM generate_series(1, ${rows.auditLogs}) AS i;
        ANALYZE;
    `);
}
