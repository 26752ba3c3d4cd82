/**
 * The release code's shared vocabulary: the target a command drives, the settings a release moves,
 * the steps and their results, the options of a deploy and its watch, and the errors that refuse
 * or stop one. Types only (and two error classes), so every file of release/, local/ and the tests
 * can import them without importing an operation.
 */
import type * as auto from "@pulumi/pulumi/automation";
import type { Color } from "../components/colors";
import type { S3Settings } from "../database/backup/s3";
import type { ConnectionSettings } from "../database/connection";
import type { Kubectl, LiveColor } from "./clusterState";

/** A stack the release code drives: the Automation API stack (its program set) and its cluster. */
export interface ReleaseTarget {
    stack: auto.Stack;
    kubectl: Kubectl;
    namespace: string;
    /** The stack's database, when the command can reach it (status, verify, the lint before a deploy, restores). */
    database?: ReleaseDatabase;
    /**
     * Where the database is migrated outside the stack (`migratesOutsideStack`): tells the stack's
     * program the version the database is now at (its `migration-version` ConfigMap and smoke tests follow it).
     */
    useMigrationVersion?: (version: string) => void | Promise<void>;
}

/** A release target opened for one command; `close()` stops what was started for it. */
export interface OpenedReleaseTarget {
    target: ReleaseTarget;
    close(): Promise<void>;
}

/**
 * Opens the `local` stack (the one `npm run local` keeps in `<repoRoot>/.local/`) as a release
 * target. The entry points (bin/physioflow.js, scripts/preview-report.ts) pass
 * local/releaseTarget.ts's `openLocalReleaseTarget`: local/ imports release/, never the reverse.
 */
export type OpenLocalTarget = (repoRoot: string, out: (line: string) => void) => Promise<OpenedReleaseTarget>;

/** The stack's database as the release commands reach it. */
export interface ReleaseDatabase {
    /** The application role's connection (the stack's dbHost, dbPort, dbName, dbUser, dbPassword, dbSslMode). */
    connection: ConnectionSettings;
    /** The migration files (the repository's `migrations/`). */
    migrationsDir: string;
    /** Where backups are written (the stack's `backupDir`). */
    backupDir: string;
    /** The stack's backup store (`backupS3*` and its key secrets); undefined when it has none. `rollback --restore latest|s3://…` fetches from it. */
    backupStore?: S3Settings;
    /** The stack's `environment` (recorded in backups; a restore checks it). */
    environment: string;
    /** The stack's `migrationTarget`; undefined: the newest file. */
    migrationTarget?: string;
    /**
     * Whether the release step itself must back up and migrate before the stack update. True for
     * `local`, whose stack is the cluster half only; false where the stack's DatabaseRelease does it.
     */
    migratesOutsideStack: boolean;
}

/** The settings a release moves, as the stack's config holds them. */
export interface ReleaseSettings {
    activeColor: Color;
    tags: Record<Color, string>;
    inactiveWarm: boolean;
    replicas: number;
    /** `migrationTarget`, when set. */
    migrationTarget?: string;
    /** `notifyWebhookUrl`, when set. */
    notifyWebhookUrl?: string;
    /** `prometheusUrl`, `errorRateQuery`, `errorRateThreshold`, when the stack names a Prometheus. */
    errorRate?: ErrorRateSettings;
}

export interface ErrorRateSettings {
    prometheusUrl: string;
    query: string;
    /** Errors per second above which the watch rolls back. */
    threshold: number;
}

export type StepName = "release" | "switch" | "watch" | "finish" | "rollback" | "verify" | "backup" | "restore";

/** The steps of a deploy, in their order (release/deploy.ts's `planDeploy` leaves out those done). */
export type DeployStep = Extract<StepName, "release" | "switch" | "watch" | "finish">;

/**
 * What a step ended with (release/outcome.ts describes and records it): `done`; the watch's
 * `breach` and what it saw; `aborted`, by whom and why; `failed`, with its error and the live color
 * read back from the cluster when it failed, never an assumed one.
 */
export type StepOutcome =
    | { kind: "done"; /** What is worth saying about it, e.g. `no breach`, `kept blue warm (--keep-warm)`. */ detail?: string }
    | { kind: "breach"; reason: string }
    | { kind: "aborted"; reason: string }
    | { kind: "failed"; error: string; live: LiveColor };

/** What the watch after a switch decided. */
export type WatchDecision = { kind: "healthy" } | { kind: "breach"; reason: string };

/** A step of a deploy, a rollback or a restore, as its result records it (release/outcome.ts's `recordStep`). */
export interface StepResult {
    step: StepName;
    /** The changes it made, one line each (empty for the watch and the database steps). */
    changes: string[];
    seconds: number;
    /** How it ended, typed: what decisions read. */
    outcome: StepOutcome;
    /** The step's line in the summary, for people: release/outcome.ts's `describeOutcome` of {@link outcome}. */
    result: string;
}

/** A step of a deploy (the same record as every command's). */
export type DeployStepResult = StepResult;

export interface DeployResult {
    ok: boolean;
    tag: string;
    from: Color;
    to: Color;
    steps: DeployStepResult[];
    /** The live color read back from the cluster when the deploy ended (after a failed step: when it failed). */
    live?: LiveColor;
    /** Set when the watch saw a breach and switched back. */
    rolledBack?: { reason: string };
    /**
     * Set when the watch saw a breach and the switch back failed: an alarm (notified as
     * `automatic-rollback-failed`, recorded in the release record, `physioflow deploy` exits 3).
     */
    rollbackFailed?: { breach: string; error: string };
    /** Set when another command (an emergency rollback) aborted this deploy: it stopped before its next step or watch reading. */
    aborted?: { by: string; reason: string };
    /** Set when the deploy lost its lock (release/deployLock.ts) and stopped: why. */
    lockLost?: { reason: string };
    /** The database's migrations, when the command reached the database: version before and after, and the backup taken. */
    migrations?: { from: string; to: string; pending: string[]; backup?: string };
    error?: string;
}

export interface WatchOptions {
    /** How long to watch the new color after the switch. */
    seconds: number;
    /** Container restarts of the new color's pods (over the whole watch) that count as a breach. Default 0: any restart. */
    maxRestarts?: number;
    intervalMs?: number;
    /** The error rate from Prometheus (the stack's settings; `deploy` fills it in). */
    errorRate?: ErrorRateSettings;
    /** Called before each reading; what it throws ends the watch (`deploy`: an abort, a lost lock). */
    goOn?: () => Promise<void>;
    /**
     * How long one reading of the cluster may take (kubectl's `--request-timeout`); a reading that
     * takes longer failed. Default 10 s. Without it an API server that accepts and never answers
     * would hold the watch (and its breach) forever.
     */
    requestTimeoutSeconds?: number;
}

export interface DeployOptions {
    watch: WatchOptions;
    /** Leave the old color at full replicas after a good watch. */
    keepWarm?: boolean;
    /** Each line a person should see. */
    out?: (line: string) => void;
}

/** A refusal before anything changed: bad input or a state that does not allow the deploy. */
export class DeployRefusedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeployRefusedError";
    }
}

/** Another command aborted the deploy (release/releaseRecord.ts `aborted`). */
export class DeployAbortedError extends Error {
    constructor(
        readonly by: string,
        readonly reason: string,
    ) {
        super(`aborted by ${by}: ${reason}`);
        this.name = "DeployAbortedError";
    }
}
