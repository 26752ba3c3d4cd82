/**
 * The S3 fixture of the backup suites: the test run's shared S3 server, a client to look at what was
 * stored, a migrated database to back up, and a new bucket name and temp directory per test.
 */
import { S3Client } from "@aws-sdk/client-s3";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { migrateUp } from "../../database/migrations/runner";
import { TestDatabase, freshDatabase } from "./postgres";
import { TestS3Server, sharedS3Server } from "./s3";

const migrationsDir = path.join(__dirname, "..", "..", "migrations");

/** Set in the suite's `before` hook: use them in tests and hooks, not when the suite is declared. */
export interface S3BackupFixture {
    s3: TestS3Server;
    /** Destroyed after the suite. */
    client: S3Client;
    /** A fresh database with the repo's migrations applied. */
    db: TestDatabase;
    /** A bucket name no other test of this run uses: `physioflow-<name>-test-<pid>-<n>`. */
    newBucket(): string;
    /** A new temp directory for each test (`physioflow-<name>-…`), removed after it. */
    dir: string;
}

/** Declares the suite's before/after hooks; `name` names its database and buckets. */
export function s3BackupFixture(name: string): S3BackupFixture {
    let buckets = 0;
    const fixture = { newBucket: () => `physioflow-${name}-test-${process.pid}-${++buckets}` } as S3BackupFixture;
    before(async () => {
        fixture.s3 = await sharedS3Server();
        fixture.client = fixture.s3.client();
        fixture.db = await freshDatabase(name);
        await migrateUp({ dir: migrationsDir, connection: fixture.db.connection });
    });
    after(() => fixture.client?.destroy());
    beforeEach(() => {
        fixture.dir = fs.mkdtempSync(path.join(os.tmpdir(), `physioflow-${name}-`));
    });
    afterEach(() => fs.rmSync(fixture.dir, { recursive: true, force: true }));
    return fixture;
}
