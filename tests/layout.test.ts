/**
 * The folders' layering (README, "Layout"), read from the import specifiers of every
 * .ts, .js and .mjs file: nothing outside tests/ imports from tests/ (test machinery stays apart
 * from what users run), release/ never imports local/ (local/ drives release/, not the reverse),
 * and devenv/ uses nothing of the product (components/, database/, release/, local/, index.ts).
 * Specifiers are `import … from`, `export … from`, `import "…"`, `import("…")` and `require("…")`
 * with a literal string; a path built at run time is not seen.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
// mocha's own file lookup, as it reads the spec's globs (no type declarations are published for it).
// eslint-disable-next-line @typescript-eslint/no-require-imports -- an untyped CommonJS module of mocha's
const lookupFiles = require("mocha/lib/cli/lookup-files") as (pattern: string, extensions: string[], recursive: boolean) => string[];

const repoRoot = path.resolve(__dirname, "..");

/** Not scanned: tests/ itself, installed packages, Git's files, and what runs leave behind (all git-ignored). */
const skipped = new Set(["node_modules", ".git", ".local", ".stryker-tmp", "reports", "backups", "dist"]);

/** The source files outside tests/, as paths relative to the repository. */
function sourceFiles(dir = ""): string[] {
    return fs.readdirSync(path.join(repoRoot, dir), { withFileTypes: true }).flatMap(entry => {
        const relative = path.posix.join(dir, entry.name);
        if (entry.isDirectory()) return skipped.has(entry.name) || relative === "tests" ? [] : sourceFiles(relative);
        return /\.(ts|js|mjs)$/.test(entry.name) ? [relative] : [];
    });
}

/** The string specifiers a file imports, requires or re-exports. */
function importSpecifiers(text: string): string[] {
    const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|\bimport\s+)(["'`])([^"'`\n$]+)\1/g;
    return [...text.matchAll(pattern)].map(match => match[2]);
}

/** The top folder (or file) of the repository a relative specifier in `file` resolves to; undefined for a package or a path outside the repository. */
function target(file: string, specifier: string): string | undefined {
    if (!specifier.startsWith(".")) return undefined;
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    if (resolved.startsWith("..")) return undefined;
    return resolved.split("/")[0];
}

const product = ["components", "database", "release", "local", "index", "index.ts"];

/** Each import that breaks the layering, as `file imports specifier (why)`. */
function layeringViolations(files: { path: string; text: string }[]): string[] {
    return files.flatMap(file => {
        const from = file.path.split("/")[0];
        return importSpecifiers(file.text).flatMap(specifier => {
            const to = target(file.path, specifier);
            if (to === undefined) return [];
            const broken = `${file.path} imports ${specifier}`;
            if (to === "tests" && from !== "tests") return [`${broken} (only tests/ may use tests/)`];
            if (from === "release" && to === "local") return [`${broken} (release/ must not import local/: local/ drives release/)`];
            if (from === "devenv" && product.includes(to)) return [`${broken} (devenv/ uses nothing of the product)`];
            return [];
        });
    });
}

describe("the folders' layering", () => {
    it("sees imports of every form, and only relative ones that leave their folder the wrong way", () => {
        assert.deepStrictEqual(
            importSpecifiers(
                [
                    `import { a } from "../tests/support/engine";`,
                    `import * as b from '../release/deploy';`,
                    `export { c } from "./c";`,
                    `export type { D } from "../d";`,
                    `import "../side";`,
                    `const e = await import("../e");`,
                    "const f = require(`../f`);",
                    "const g = require(`${root}/g`);",
                ].join("\n"),
            ),
            ["../tests/support/engine", "../release/deploy", "./c", "../d", "../side", "../e", "../f"],
        );
        assert.deepStrictEqual(
            layeringViolations([
                { path: "bench/engine.ts", text: `import { x } from "../tests/support/programRun";` },
                { path: "bin/physioflow.js", text: `require("../tests/support/s3")` },
                { path: "release/cli.ts", text: `const { y } = await import("../local/releaseTarget");` },
                {
                    path: "devenv/cluster.ts",
                    text: `import { z } from "../components";\nimport { w } from "../database/errors";\nimport { v } from "./processes";`,
                },
                { path: "local/run.ts", text: `import { deploy } from "../release/deploy";\nimport { startCluster } from "../devenv/cluster";` },
                { path: "tests/support/engine.ts", text: `import { a } from "./programRun";\nimport { b } from "../../local/clusterStack";` },
                { path: "index.ts", text: `import * as pulumi from "@pulumi/pulumi";\nimport { c } from "./components";` },
            ]),
            [
                "bench/engine.ts imports ../tests/support/programRun (only tests/ may use tests/)",
                "bin/physioflow.js imports ../tests/support/s3 (only tests/ may use tests/)",
                "release/cli.ts imports ../local/releaseTarget (release/ must not import local/: local/ drives release/)",
                "devenv/cluster.ts imports ../components (devenv/ uses nothing of the product)",
                "devenv/cluster.ts imports ../database/errors (devenv/ uses nothing of the product)",
            ],
        );
    });

    it("holds in the repository: nothing outside tests/ imports tests/, release/ not local/, devenv/ nothing of the product", () => {
        const files = sourceFiles();
        assert.ok(
            files.includes("bench/engine.ts") && files.includes("bin/physioflow.js") && files.includes("stryker.config.mjs"),
            `scanned: ${files.join(", ")}`,
        );
        assert.ok(!files.some(file => file.startsWith("tests/") || file.includes("node_modules/")));
        const violations = layeringViolations(files.map(file => ({ path: file, text: fs.readFileSync(path.join(repoRoot, file), "utf8") })));
        assert.deepStrictEqual(violations, [], `move the code to the folder that may hold it (README, "Layout"):\n${violations.join("\n")}`);
    });
});

/** The repository file a relative specifier in `file` names (`x` as `x.ts`, `x.js` or `x/index.ts`), when it is one of `files`. */
function resolved(file: string, specifier: string, files: Set<string>): string | undefined {
    if (!specifier.startsWith(".")) return undefined;
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    return [base, `${base}.ts`, `${base}.js`, `${base}/index.ts`].find(candidate => files.has(candidate));
}

/** Each import cycle among `files` (type-only imports too), as `a -> b -> a`, each cycle once. */
function importCycles(files: { path: string; text: string }[]): string[] {
    const names = new Set(files.map(file => file.path));
    const edges = new Map(
        files.map(file => [file.path, [...new Set(importSpecifiers(file.text).flatMap(spec => resolved(file.path, spec, names) ?? []))].sort()]),
    );
    const cycles = new Set<string>();
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (node: string) => {
        state.set(node, "open");
        stack.push(node);
        for (const next of edges.get(node) ?? []) {
            if (state.get(next) === "open") {
                const cycle = stack.slice(stack.indexOf(next));
                // The same cycle found from another of its files: written from its smallest file.
                const start = cycle.indexOf([...cycle].sort()[0]);
                const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
                cycles.add([...rotated, rotated[0]].join(" -> "));
            } else if (!state.has(next)) visit(next);
        }
        stack.pop();
        state.set(node, "done");
    };
    [...names].sort().forEach(node => state.has(node) || visit(node));
    return [...cycles].sort();
}

describe("no import cycles", () => {
    it("finds a cycle through index files and extensions, once, and none in a tree", () => {
        const files = [
            { path: "release/a.ts", text: `import { b } from "./b";\nimport type { C } from "../components";` },
            { path: "release/b.ts", text: `export { a } from "./a";` },
            { path: "components/index.ts", text: `export * from "./c";` },
            { path: "components/c.ts", text: `import * as fs from "fs";` },
        ];
        assert.deepStrictEqual(importCycles(files), ["release/a.ts -> release/b.ts -> release/a.ts"]);
        assert.deepStrictEqual(importCycles(files.filter(file => file.path !== "release/b.ts")), []);
    });

    it("holds in the repository (tests/ included): a module's imports never lead back to it", () => {
        const all = [...sourceFiles(), ...lookupFiles(path.join(repoRoot, "tests"), ["ts"], true).map(file => path.relative(repoRoot, file))];
        const cycles = importCycles(all.map(file => ({ path: file, text: fs.readFileSync(path.join(repoRoot, file), "utf8") })));
        assert.deepStrictEqual(cycles, [], `break each cycle (shared types go to a module of their own):\n${cycles.join("\n")}`);
    });
});

describe("the test run's file list (.mocharc.json)", () => {
    it("runs every tests/**/*.test.ts file exactly once, the longest engine suites first", () => {
        // The spec lists the slow engine suites by name so the workers start them first (mocha hands
        // files out in order); the globs after them must still catch every other file, once.
        const config = JSON.parse(fs.readFileSync(path.join(repoRoot, ".mocharc.json"), "utf8")) as { spec: string[] };
        const run = config.spec.flatMap(spec => lookupFiles(path.join(repoRoot, spec), ["ts"], true)).map(file => path.relative(repoRoot, file));
        const all = lookupFiles(path.join(repoRoot, "tests/**/*.test.ts"), ["ts"], true).map(file => path.relative(repoRoot, file));
        assert.deepStrictEqual([...run].sort(), [...all].sort());
        assert.strictEqual(run[0], "tests/engine/deploy.test.ts");
    });
});
