/**
 * README.md and docs/*.md hold together: every relative link reaches a file that exists (and,
 * with `#anchor`, a heading of it, by GitHub's anchor rules), every `npm run <script>` written in
 * code is a script of package.json, and README stays a front door.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";

const repoRoot = path.resolve(__dirname, "..", "..");
const docFiles = [
    "README.md",
    ...fs
        .readdirSync(path.join(repoRoot, "docs"))
        .filter(f => f.endsWith(".md"))
        .sort()
        .map(f => `docs/${f}`),
];
const scripts = Object.keys((JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts);
const README_MAX_LINES = 170;

interface MarkdownParts {
    /** Lines outside fenced code blocks, inline code spans removed, with their line numbers. */
    prose: { line: number; text: string }[];
    /** Inline code spans and fenced code blocks' lines, with their line numbers. */
    code: { line: number; text: string }[];
    headings: string[];
}

function splitMarkdown(markdown: string): MarkdownParts {
    const parts: MarkdownParts = { prose: [], code: [], headings: [] };
    let fence: string | undefined;
    markdown.split("\n").forEach((text, index) => {
        const line = index + 1;
        const fenceMark = /^\s*(```+|~~~+)/.exec(text);
        if (fence !== undefined) {
            if (fenceMark && fenceMark[1].startsWith(fence)) fence = undefined;
            else parts.code.push({ line, text });
            return;
        }
        if (fenceMark) {
            fence = fenceMark[1];
            return;
        }
        for (const span of text.match(/`[^`]+`/g) ?? []) parts.code.push({ line, text: span.slice(1, -1) });
        const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
        if (heading) parts.headings.push(heading[1]);
        parts.prose.push({ line, text: text.replace(/`[^`]+`/g, "code") });
    });
    return parts;
}

/** The anchor GitHub gives a heading: its text lowercased, punctuation dropped, spaces as hyphens. */
function githubAnchor(heading: string): string {
    const text = heading.replace(/\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/[`*]/g, "");
    return text
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N}\s_-]/gu, "")
        .replace(/\s/g, "-");
}

/** Every anchor of a file's headings, repeated ones numbered as GitHub does (`name`, `name-1`, ...). */
function anchorsOf(headings: readonly string[]): Set<string> {
    const seen = new Map<string, number>();
    const anchors = new Set<string>();
    for (const heading of headings) {
        const anchor = githubAnchor(heading);
        const count = seen.get(anchor) ?? 0;
        anchors.add(count === 0 ? anchor : `${anchor}-${count}`);
        seen.set(anchor, count + 1);
    }
    return anchors;
}

/** What is wrong with the relative links of `file` (a path under `root`), one line each. */
function brokenLinks(root: string, file: string, markdown: string): string[] {
    const problems: string[] = [];
    for (const { line, text } of splitMarkdown(markdown).prose) {
        for (const match of text.matchAll(/\]\(<?([^)\s>]+)>?(?:\s+"[^"]*")?\)/g)) {
            const target = match[1];
            if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
            const [pathPart, anchor] = target.split("#", 2);
            const resolved = pathPart === "" ? path.join(root, file) : path.resolve(root, path.dirname(file), decodeURIComponent(pathPart));
            const where = `${file}:${line}: ${target}`;
            if (!fs.existsSync(resolved)) {
                problems.push(`${where}: no file ${path.relative(root, resolved)}`);
                continue;
            }
            if (anchor === undefined) continue;
            if (!resolved.endsWith(".md")) {
                problems.push(`${where}: an anchor into a file that is not Markdown`);
                continue;
            }
            const anchors = anchorsOf(splitMarkdown(pathPart === "" ? markdown : fs.readFileSync(resolved, "utf8")).headings);
            if (!anchors.has(anchor)) problems.push(`${where}: no heading with anchor #${anchor} in ${path.relative(root, resolved)}`);
        }
    }
    return problems;
}

/** `npm run <name>` written in code (spans and fenced blocks) whose name is not a script, one line each. */
function unknownScripts(file: string, markdown: string, known: readonly string[]): string[] {
    const problems: string[] = [];
    for (const { line, text } of splitMarkdown(markdown).code) {
        for (const match of text.matchAll(/\bnpm run(?:\s+-[\w-]+)*\s+([a-z0-9][\w:.-]*)/gi)) {
            const name = match[1].replace(/[.:]+$/, "");
            if (!known.includes(name)) problems.push(`${file}:${line}: npm run ${name}: no such script in package.json`);
        }
    }
    return problems;
}

describe("documentation links and commands", () => {
    describe("the checks themselves", () => {
        it("give GitHub's anchors", () => {
            assert.strictEqual(githubAnchor("Settings (`physioflow:<key>`)"), "settings-physioflowkey");
            assert.strictEqual(githubAnchor("Switching the live Service: `npm run bench:switch`"), "switching-the-live-service-npm-run-benchswitch");
            assert.strictEqual(githubAnchor("### `schema_migrations`".replace(/^#+\s*/, "")), "schema_migrations");
            assert.deepStrictEqual([...anchorsOf(["Tests", "Tests", "Tests"])], ["tests", "tests-1", "tests-2"]);
        });

        it("report a missing file, a missing heading and an unknown script, and pass what exists", () => {
            const markdown = [
                "[ok](docs/testing.md) [ok](docs/testing.md#ci-times) [ok](#a-heading) [web](https://example.test/x.md)",
                "[gone](docs/no-such-file.md) [bad anchor](docs/testing.md#no-such-heading)",
                "`[not a link](docs/no-such-file.md)`",
                "## A heading",
                "```bash",
                "npm run setup && npm run -s no-such-script",
                "[not a link either](nowhere.md)",
                "```",
                "`npm run test:mutation:config` and `npm run setup.`",
            ].join("\n");
            assert.deepStrictEqual(brokenLinks(repoRoot, "README.md", markdown), [
                "README.md:2: docs/no-such-file.md: no file docs/no-such-file.md",
                "README.md:2: docs/testing.md#no-such-heading: no heading with anchor #no-such-heading in docs/testing.md",
            ]);
            assert.deepStrictEqual(unknownScripts("README.md", markdown, scripts), ["README.md:6: npm run no-such-script: no such script in package.json"]);
        });
    });

    for (const file of docFiles) {
        const markdown = fs.readFileSync(path.join(repoRoot, file), "utf8");

        it(`${file}: every relative link reaches a file, and a heading when it names one`, () => {
            assert.deepStrictEqual(brokenLinks(repoRoot, file, markdown), []);
        });

        it(`${file}: every npm run in code names a script of package.json`, () => {
            assert.deepStrictEqual(unknownScripts(file, markdown, scripts), []);
        });
    }

    it(`README.md is a front door: at most ${README_MAX_LINES} lines`, () => {
        const lines = fs.readFileSync(path.join(repoRoot, "README.md"), "utf8").trimEnd().split("\n").length;
        assert.ok(lines <= README_MAX_LINES, `README.md has ${lines} lines; move reference material into docs/ (at most ${README_MAX_LINES})`);
    });
});
