// @ts-check
/**
 * ESLint for the whole repository (`npm run lint`, part of `npm test`).
 *
 * - typescript-eslint's type-checked rules: this code awaits kubectl, the Pulumi engine and PostgreSQL,
 *   and a promise nobody awaits is a failure nobody sees (no-floating-promises, no-misused-promises,
 *   await-thenable).
 * - @pulumi/eslint-plugin: an Output in a plain template literal prints "Calling [toString] on an
 *   [Output<T>] is not supported" instead of its value (STYLE.md, rule 5: pulumi.interpolate).
 * - eslint-config-prettier last: formatting is Prettier's alone (.prettierrc.json), the two never disagree.
 */
import eslint from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";

export default tseslint.config(
    {
        ignores: ["node_modules/", ".local/", ".stryker-tmp/", "reports/", "backups/", "dist/"],
    },
    eslint.configs.recommended,
    tseslint.configs.recommendedTypeChecked,
    {
        languageOptions: {
            parserOptions: {
                projectService: true,
                tsconfigRootDir: import.meta.dirname,
            },
        },
        rules: {
            // Off here, on below for the product code that types what it reads (the block that lists it).
            "@typescript-eslint/no-explicit-any": "off",
            "@typescript-eslint/no-unsafe-argument": "off",
            "@typescript-eslint/no-unsafe-assignment": "off",
            "@typescript-eslint/no-unsafe-call": "off",
            "@typescript-eslint/no-unsafe-member-access": "off",
            "@typescript-eslint/no-unsafe-return": "off",
            // Off: its findings are stubs that implement a promise-returning interface (`async confirm() { return true; }`).
            "@typescript-eslint/require-await": "off",
            // `const { cleanup, ...report } = archive` is how a field is left out of an object.
            "@typescript-eslint/no-unused-vars": ["error", { ignoreRestSiblings: true }],
            // The tests match column-aligned output literally (/^  live service   physioflow-api/): `{3}` reads worse.
            "no-regex-spaces": "off",
        },
    },
    {
        // No `any` in product code: the JSON it reads (kubectl's, the engine's state and outputs, PostgreSQL's
        // rows, Prometheus's answers) is typed where it enters: small interfaces of the fields read
        // (release/kubernetesObjects.ts for the Kubernetes objects; pg's query<Row>), `JSON.parse(...) as T` at
        // the one place a document enters (devenv/kubectl.ts kubectlGet), `unknown` narrowed where the
        // shape is not known. One suppression, with its reason: devenv/cluster.ts Cluster.getJson, the
        // engine tests' untyped reader.
        // Still off, and why: tests/ (about 650 findings as of December 2026): assertions on `kubectl get
        // -o json` and on engine state read as `any`; a missing field fails the assertion loudly, and typing
        // every document a test reads is its own work.
        files: [
            "index.ts",
            "components/**/*.ts",
            "database/**/*.ts",
            "bench/**/*.ts",
            "devenv/**/*.ts",
            "local/**/*.ts",
            "scripts/**/*.ts",
            "bin/**/*.ts",
            "release/**/*.ts",
        ],
        rules: {
            "@typescript-eslint/no-explicit-any": "error",
            "@typescript-eslint/no-unsafe-argument": "error",
            "@typescript-eslint/no-unsafe-assignment": "error",
            "@typescript-eslint/no-unsafe-call": "error",
            "@typescript-eslint/no-unsafe-member-access": "error",
            "@typescript-eslint/no-unsafe-return": "error",
        },
    },
    {
        files: ["**/*.ts"],
        plugins: { "@pulumi": pulumi },
        rules: {
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
        },
    },
    {
        // The few plain JavaScript files (the CLI's entry, the StrykerJS and ESLint configs) are outside
        // tsconfig.json: the rules that need no types still apply.
        files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
        extends: [tseslint.configs.disableTypeChecked],
        languageOptions: { globals: { process: "readonly", console: "readonly" } },
    },
    {
        // bin/physioflow.js is CommonJS: require() is how it loads ts-node and the CLIs.
        files: ["**/*.js", "**/*.cjs"],
        languageOptions: { sourceType: "commonjs", globals: { __dirname: "readonly" } },
        rules: { "@typescript-eslint/no-require-imports": "off" },
    },
    prettier,
);
