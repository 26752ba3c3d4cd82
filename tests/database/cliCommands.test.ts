/**
 * The one list of `physioflow` commands (database/cli/commands.ts): the help lists each, and the
 * bin script hands each to the code that runs it. In-process, through bin/physioflow.js's own dispatch.
 */
import * as assert from "assert";
import { physioflowCommands, usageLine } from "../../database/cli/commands";
import { releaseCommands } from "../../release/cli";
import { physioflow as dispatch } from "../../bin/physioflow";
import { runInProcess } from "../support/cliRun";

const physioflow = (argv: string[]) => runInProcess(streams => dispatch(argv, streams));

describe("physioflow's command list", () => {
    for (const ask of [["help"], ["--help"], []]) {
        it(`physioflow ${ask.join(" ")} lists every command with its arguments and summary`.replace("  ", " "), async () => {
            const run = await physioflow(ask);
            assert.deepStrictEqual([run.code, run.stderr], [0, ""]);
            for (const command of physioflowCommands) {
                assert.ok(run.stdout.includes(`\n  ${usageLine(command.name).slice("physioflow ".length)}`), `${command.name} is not listed:\n${run.stdout}`);
                assert.ok(run.stdout.includes(command.summary), `${command.name}'s summary is not shown`);
            }
        });
    }

    it("each listed command dispatches to the code that runs it: <command> --help is its help, never an unknown command", async function () {
        this.timeout(60_000);
        for (const command of physioflowCommands) {
            const run = await physioflow([...command.name.split(" "), "--help"]);
            assert.deepStrictEqual([run.code, run.stderr], [0, ""], `physioflow ${command.name} --help`);
            const expected = command.side === "release" ? `usage: ${usageLine(command.name)}\n` : `Usage: physioflow ${command.name.split(" ")[0]} <`;
            assert.ok(run.stdout.startsWith(expected), `physioflow ${command.name} --help printed:\n${run.stdout}`);
        }
        assert.deepStrictEqual(releaseCommands, ["deploy", "rollback", "status", "sync", "verify", "import"]);
    });

    it("a word that is no command is refused in one line naming every command, exit 2", async () => {
        assert.deepStrictEqual(await physioflow(["rollout"]), {
            code: 2,
            stdout: "",
            stderr: 'physioflow: error: unknown command "rollout"; expected "migrate", "backup", "deploy", "rollback", "status", "sync", "verify" or "import" (see physioflow --help)\n',
        });
    });
});
