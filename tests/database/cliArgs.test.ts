import * as assert from "assert";
import * as os from "os";
import * as path from "path";
import { parseCommandLine, parseDuration } from "../../database/cli/args";
import { UsageError } from "../../database/errors";

function usageError(argv: string[], message: string): void {
    assert.throws(
        () => parseCommandLine(argv),
        (error: Error) => {
            assert.ok(error instanceof UsageError, `${argv.join(" ")}: ${error}`);
            assert.strictEqual(error.message, message);
            return true;
        },
    );
}

describe("CLI argument parsing", () => {
    it("parses every command with its defaults", () => {
        const quiet = { verbose: false, quiet: false };
        assert.deepStrictEqual(parseCommandLine(["migrate", "status"]), { command: "migrate status", dir: "migrations", ...quiet });
        assert.deepStrictEqual(parseCommandLine(["migrate", "version", "--dir", "db/migrations"]), {
            command: "migrate version",
            dir: "db/migrations",
            ...quiet,
        });
        assert.deepStrictEqual(parseCommandLine(["migrate", "up", "--to", "015", "--dry-run", "--lock-timeout", "2m"]), {
            command: "migrate up",
            dir: "migrations",
            to: "015",
            dryRun: true,
            lockTimeoutMs: 120_000,
            runnerWaitMs: 60_000,
            backupOut: undefined,
            environment: undefined,
            label: undefined,
            tags: undefined,
            ...quiet,
        });
        assert.deepStrictEqual(parseCommandLine(["migrate", "down", "--to", "000", "--verbose"]), {
            command: "migrate down",
            dir: "migrations",
            to: "000",
            dryRun: false,
            lockTimeoutMs: 5_000,
            runnerWaitMs: 60_000,
            yes: false,
            backupOut: "backups",
            environment: undefined,
            verbose: true,
            quiet: false,
        });
        assert.deepStrictEqual(
            parseCommandLine(["migrate", "down", "--to", "004", "--yes", "--backup-out", "/b", "--env", "dev", "--lock-timeout", "2s", "--runner-wait", "10s"]),
            {
                command: "migrate down",
                dir: "migrations",
                to: "004",
                dryRun: false,
                lockTimeoutMs: 2_000,
                runnerWaitMs: 10_000,
                yes: true,
                backupOut: "/b",
                environment: "dev",
                ...quiet,
            },
        );
        assert.deepStrictEqual(
            parseCommandLine([
                "backup",
                "create",
                "--out",
                "/var/backups",
                "--env",
                "prod",
                "--label",
                "pre-deploy-v1.2.3",
                "--tags",
                "api=v1.2.3,web=v1.2.3",
                "--upload",
            ]),
            {
                command: "backup create",
                outDir: "/var/backups",
                environment: "prod",
                label: "pre-deploy-v1.2.3",
                tags: { api: "v1.2.3", web: "v1.2.3" },
                upload: true,
                keep: 10,
                ...quiet,
            },
        );
        assert.deepStrictEqual(parseCommandLine(["backup", "create", "--out", "d", "--colors", "blue=v1.2.2,green=v1.3.0", "--live", "green"]), {
            command: "backup create",
            outDir: "d",
            environment: "local",
            label: "manual",
            tags: {},
            colors: { colors: { blue: "v1.2.2", green: "v1.3.0" }, live: "green" },
            upload: false,
            keep: 10,
            ...quiet,
        });
        assert.deepStrictEqual(parseCommandLine(["--quiet", "backup", "restore", "a.tar.gz", "--yes", "--env", "dev"]), {
            command: "backup restore",
            file: "a.tar.gz",
            yes: true,
            environment: "dev",
            lockTimeoutMs: 60_000,
            allowOtherDatabase: false,
            allowOtherEnvironment: false,
            backupOut: "backups",
            verbose: false,
            quiet: true,
        });
        assert.deepStrictEqual(parseCommandLine(["backup", "restore", "a.tar.gz", "--allow-other-env", "--allow-other-database", "--backup-out", "/safety"]), {
            command: "backup restore",
            file: "a.tar.gz",
            yes: false,
            environment: undefined,
            lockTimeoutMs: 60_000,
            allowOtherDatabase: true,
            allowOtherEnvironment: true,
            backupOut: "/safety",
            ...quiet,
        });
        assert.deepStrictEqual(parseCommandLine(["backup", "prune", "--dir", "/b", "--keep", "3"]), { command: "backup prune", dir: "/b", keep: 3, ...quiet });
        assert.deepStrictEqual(parseCommandLine(["backup", "verify", "x.tar.gz"]), { command: "backup verify", file: "x.tar.gz", ...quiet });
        // list and fetch: --dir, else the stacks' default folder of --env.
        const home = path.join(os.homedir(), "physioflow-backups", "prod");
        assert.deepStrictEqual(parseCommandLine(["backup", "list", "--env", "prod", "--remote"]), {
            command: "backup list",
            dir: home,
            environment: "prod",
            remote: true,
            ...quiet,
        });
        assert.deepStrictEqual(parseCommandLine(["backup", "list", "--dir", "/b"]), {
            command: "backup list",
            dir: "/b",
            environment: undefined,
            remote: false,
            ...quiet,
        });
        assert.deepStrictEqual(parseCommandLine(["backup", "fetch", "latest", "--env", "prod"]), {
            command: "backup fetch",
            archive: "latest",
            dir: home,
            environment: "prod",
            ...quiet,
        });
    });

    it("answers help requests", () => {
        assert.strictEqual(parseCommandLine([]).command, "help");
        assert.strictEqual(parseCommandLine(["--help"]).command, "help");
        assert.deepStrictEqual(parseCommandLine(["migrate", "up", "--help"]), { command: "help", topic: "migrate", verbose: false, quiet: false });
        assert.deepStrictEqual(parseCommandLine(["backup"]), { command: "help", topic: "backup", verbose: false, quiet: false });
    });

    it("refuses bad input with a usage error naming what is wrong", () => {
        usageError(
            ["rollout"],
            'unknown command "rollout"; expected "migrate", "backup", "deploy", "rollback", "status", "sync", "verify" or "import" (see physioflow --help)',
        );
        usageError(
            ["migrate", "sideways"],
            'unknown command "migrate sideways"; expected one of: migrate status, migrate validate, migrate up, migrate down, migrate lint, migrate version',
        );
        usageError(["migrate", "up", "--to", "15"], '--to must be a three-digit migration number such as 005, got "15"');
        usageError(["migrate", "down"], 'migrate down needs --to NNN (the version to go back to, "000" for none)');
        usageError(["migrate", "up", "--bogus"], "migrate up: Unknown option '--bogus' (see physioflow migrate --help)");
        usageError(["migrate", "up", "--to"], "migrate up: Option '--to <value>' argument missing (see physioflow migrate --help)");
        usageError(["migrate", "status", "extra"], 'migrate status takes no arguments, got unexpected "extra"');
        usageError(["backup", "create"], "backup create needs --out DIR (where to write the archive)");
        usageError(
            ["backup", "create", "--out", "d", "--env", "Prod"],
            '--env must be lower-case letters, digits and dashes (e.g. dev, staging, prod), got "Prod"',
        );
        usageError(
            ["backup", "create", "--out", "d", "--label", "a_b"],
            '--label must be letters, digits, dots and dashes (e.g. pre-deploy-v1.2.3), got "a_b"',
        );
        usageError(["backup", "create", "--out", "d", "--tags", "api"], '--tags must look like api=v1.2.3,web=v1.2.3, got "api"');
        usageError(["backup", "create", "--out", "d", "--keep", "0"], '--keep must be a whole number of at least 1, got "0"');
        usageError(
            ["backup", "create", "--out", "d", "--colors", "blue=v1,green=v2"],
            "--colors and --live go together: --colors blue=v1.2.2,green=v1.3.0 --live blue",
        );
        usageError(["backup", "create", "--out", "d", "--live", "blue"], "--colors and --live go together: --colors blue=v1.2.2,green=v1.3.0 --live blue");
        usageError(["backup", "create", "--out", "d", "--colors", "blue=v1,green=v2", "--live", "red"], '--live must be blue or green, got "red"');
        usageError(["backup", "verify"], "backup verify needs a FILE argument");
        usageError(["backup", "prune", "--dir", "d"], "backup prune needs --dir DIR and --keep N");
        usageError(["backup", "list"], "backup list needs --env ENV (its folder is $HOME/physioflow-backups/<env>) or --dir DIR");
        usageError(["backup", "fetch", "latest"], "backup fetch needs --env ENV (its folder is $HOME/physioflow-backups/<env>) or --dir DIR");
        usageError(["backup", "fetch", "--env", "prod"], "backup fetch needs a FILE argument");
        usageError(["backup", "list", "--env", "Prod"], '--env must be lower-case letters, digits and dashes (e.g. dev, staging, prod), got "Prod"');
        usageError(
            ["backup", "restore", "a", "--env", "dev", "--lock-timeout", "soon"],
            '--lock-timeout must be a duration such as 30s, 2m or 500ms, got "soon"',
        );
        usageError(
            ["backup", "restore", "a", "--yes"],
            "backup restore needs --env ENV (the target's environment, e.g. dev), so an archive of another environment is refused; --allow-other-env restores without that check",
        );
        usageError(["migrate", "up", "--lock-timeout", "0"], "--lock-timeout must be above zero: a migration must never wait for a table lock without limit");
        usageError(["migrate", "down", "--to", "001", "--runner-wait", "later"], '--runner-wait must be a duration such as 30s, 2m or 500ms, got "later"');
    });

    it("reads durations", () => {
        assert.deepStrictEqual(
            ["500ms", "30s", "30", "2m"].map(d => parseDuration(d, "--x")),
            [500, 30_000, 30_000, 120_000],
        );
    });
});
