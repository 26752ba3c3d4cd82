// `npm run engine -- --check` after the build: the end-to-end smoke test (devenv/engineCheck.ts).
// Progress lines and the one-line error look like the rest of scripts/engine.sh's; exit 1 on failure.
import * as path from "path";
import { checkEngine, EngineCheckError } from "../devenv/engineCheck";

const say = (line: string) => process.stderr.write(`[engine] ${line}\n`);

checkEngine(path.resolve(__dirname, ".."), say, process.env.PHYSIOFLOW_ENGINE_KEEP === "1").then(
    () => process.exit(0),
    (error: unknown) => {
        if (error instanceof EngineCheckError && error.details) process.stderr.write(`${error.details.trimEnd()}\n`);
        process.stderr.write(`engine.sh: error: step "check" failed: ${(error as Error).message.split("\n")[0]}\n`);
        process.exit(1);
    },
);
