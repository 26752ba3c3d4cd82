import * as pulumi from "@pulumi/pulumi";

/** What the stack's first up adopts: the namespace, and the namedObjects (components/appNames.ts) found in it (`Kind/name`). */
export interface Adoption {
    namespace: string;
    objects: readonly string[];
}

/**
 * The resource options that adopt one object when `adoption` lists it, else none. The `import`
 * option reads the live object into the state; the engine (3.248) then diffs it against what the
 * stack declares and, where they differ, updates the object in the same run (older engines
 * refused such an import instead). The team's objects are not the stack's (another pod template,
 * other labels, no `pulumi.com/*` annotations), so a plain import would write the stack's pod
 * template and roll every pod in the adopting update. For that update only, `ignoreChanges`
 * keeps the live value of `kept` (e.g. `spec`), the labels and the annotations: the diff is empty,
 * the object is recorded unchanged, nothing is written, no pod restarts. The next `up` (without
 * the setting) applies the stack's values, and its preview shows what that changes first; a
 * changed pod template rolls that Deployment's pods then, when the team chooses.
 */
export function adoptOptions(adoption: Adoption | undefined, kind: string, name: string, kept: string[]): pulumi.CustomResourceOptions {
    if (adoption === undefined || !adoption.objects.includes(`${kind}/${name}`)) return {};
    return { import: `${adoption.namespace}/${name}`, ignoreChanges: ["metadata.labels", "metadata.annotations", ...kept] };
}
