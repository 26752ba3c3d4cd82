import * as pulumi from "@pulumi/pulumi";

/** What the stack's first up adopts: the namespace, and the namedObjects (components/appNames.ts) found in it (`Kind/name`). */
export interface Adoption {
    namespace: string;
    objects: readonly string[];
}

/**
 * The resource options that adopt one object when `adoption` lists it, else none. Pulumi's
 * `import` fails unless the declared inputs match the live object's, and the team's objects are
 * not the stack's (another pod template, other labels, no `pulumi.com/*` annotations): for the
 * adopting update only, `ignoreChanges` keeps the live value of `kept` (e.g. `spec`), the labels
 * and the annotations, so the update reads the object and records it in the state unchanged: no
 * field written, no pod template touched, no pod restarted. The next `up` (without the setting)
 * applies the stack's values, and its preview shows what that changes; a changed pod template
 * rolls that Deployment's pods then, when the team chooses.
 */
export function adoptOptions(adoption: Adoption | undefined, kind: string, name: string, kept: string[]): pulumi.CustomResourceOptions {
    if (adoption === undefined || !adoption.objects.includes(`${kind}/${name}`)) return {};
    return { import: `${adoption.namespace}/${name}`, ignoreChanges: ["metadata.labels", "metadata.annotations", ...kept] };
}
