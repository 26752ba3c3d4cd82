import * as assert from "assert";
import { BlockingSession, describeBlockers } from "../../database/migrations/blockers";

describe("describeBlockers: who a migration statement waited for", () => {
    const session = (overrides: Partial<BlockingSession>): BlockingSession => ({
        pid: 4242,
        applicationName: "",
        state: null,
        heldModes: null,
        transactionMs: null,
        queryStart: null,
        query: null,
        ...overrides,
    });

    it("says it did not catch the blocker when there was no sighting, or one without sessions", () => {
        const missed = "a lock held by another session (it was not caught before the timeout; look in pg_stat_activity)";
        assert.strictEqual(describeBlockers(undefined), missed);
        assert.strictEqual(describeBlockers({ waitingFor: "AccessExclusiveLock on patients", blockers: [] }), missed);
    });

    it("names a session by pid alone when nothing else is known", () => {
        assert.strictEqual(describeBlockers({ waitingFor: "a lock", blockers: [session({})] }), "a lock, held by pid 4242");
    });

    it("lists every mode held, the state and transaction age, and the last query with its start", () => {
        const started = new Date("2026-11-29T08:00:00.000Z");
        assert.strictEqual(
            describeBlockers({
                waitingFor: "AccessExclusiveLock on patients",
                blockers: [
                    session({
                        applicationName: "physioflow-api",
                        heldModes: "AccessShareLock,RowExclusiveLock",
                        state: "idle in transaction",
                        transactionMs: 3200,
                        queryStart: started,
                        query: "SELECT 1",
                    }),
                    session({ pid: 7, state: "active", transactionMs: 20, queryStart: started }),
                ],
            }),
            'AccessExclusiveLock on patients, held by pid 4242 "physioflow-api" ' +
                "(holds AccessShareLock, RowExclusiveLock; idle in transaction, transaction open 3.2 s; last query started 2026-11-29T08:00:00.000Z: SELECT 1) " +
                "and pid 7 (active, transaction open 20 ms; query started 2026-11-29T08:00:00.000Z)",
        );
    });

    it("gives the transaction age without a state, and the state without a transaction", () => {
        assert.strictEqual(
            describeBlockers({ waitingFor: "a lock", blockers: [session({ transactionMs: 0 }), session({ pid: 5, state: "idle" })] }),
            "a lock, held by pid 4242 (transaction open 0 ms) and pid 5 (idle)",
        );
    });
});
