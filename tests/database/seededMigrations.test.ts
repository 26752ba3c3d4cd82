import * as assert from "assert";
import * as path from "path";
import { lintMigrationFiles } from "../../database/lint/lintMigrations";
import { loadMigrationSet } from "../../database/migrations/load";
import { migrateDown, migrateUp } from "../../database/migrations/runner";
import { validateMigrationSet } from "../../database/migrations/validate";
import { freshDatabase } from "../support/postgres";
import { insertClinicData } from "./seedData";

const DIR = path.join(__dirname, "..", "..", "migrations");

describe("the PhysioFlow migrations in migrations/", function () {
    this.timeout(120_000);

    it("are valid, each with a down script", async () => {
        const set = await loadMigrationSet(DIR);
        assert.deepStrictEqual(validateMigrationSet(set, []), []);
        assert.ok(set.migrations.length >= 5);
        assert.deepStrictEqual(
            set.rollbacks.map(r => r.version),
            set.migrations.map(m => m.version),
        );
    });

    it("pass the blue-green lint without any allow-breaking opt-out", async () => {
        const set = await loadMigrationSet(DIR);
        const reports = await lintMigrationFiles(set.migrations);
        assert.deepStrictEqual(
            reports.filter(r => !r.ok || r.allowedBecause),
            [],
        );
        assert.deepStrictEqual(
            set.migrations.filter(m => m.directives.allowBreaking),
            [],
        );
    });

    it("apply, hold clinic data, go all the way down and up again", async () => {
        const db = await freshDatabase("seeded");
        const client = await db.connect();
        try {
            const up = await migrateUp({ dir: DIR, connection: db.connection });
            assert.strictEqual(up.to, "006");
            const tables = (await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map(r => r.tablename);
            assert.deepStrictEqual(tables, [
                "appointments",
                "audit_logs",
                "bhyt_insurance_cards",
                "checklist_templates",
                "patients",
                "schema_migrations",
                "soap_notes",
                "therapists",
                "visit_checklists",
            ]);
            await insertClinicData(client);
            await assert.rejects(
                client.query(
                    "INSERT INTO bhyt_insurance_cards (patient_id, card_number, benefit_level, registered_facility_code, valid_from, valid_to) SELECT id, 'BAD', 80, '79-001', '2026-01-01', '2026-12-31' FROM patients LIMIT 1",
                ),
                /bhyt_insurance_cards_card_number_check/,
            );
            await client.query(
                "DELETE FROM audit_logs; DELETE FROM bhyt_insurance_cards; DELETE FROM soap_notes; DELETE FROM visit_checklists; DELETE FROM checklist_templates; DELETE FROM appointments; DELETE FROM patients; DELETE FROM therapists",
            );

            const down = await migrateDown({ dir: DIR, connection: db.connection, to: "000" });
            assert.deepStrictEqual(
                down.steps.map(s => s.version),
                ["006", "005", "004", "003", "002", "001"],
            );
            const left = await client.query(
                "SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname <> 'schema_migrations' AND c.relname NOT LIKE 'schema_migrations%'",
            );
            assert.strictEqual(left.rows[0].n, 0);
            assert.strictEqual((await client.query("SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'set_updated_at'")).rows[0].n, 0);

            assert.strictEqual((await migrateUp({ dir: DIR, connection: db.connection })).to, "006");
        } finally {
            await client.end();
        }
    });
});
