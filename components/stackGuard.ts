import * as pulumi from "@pulumi/pulumi";

/** The guard's name; its URN must never change (a renamed guard is a deleted one: alias it). */
export const stackGuardName = "physioflow-stack-guard";

/**
 * A protected component with no objects of its own, registered last and depending on every
 * resource the program registers. An update whose program ends without registering it (cut short:
 * an error the runtime swallowed, a program that returned early, a refactor that lost the apps)
 * would delete what it did not register; the engine deletes dependents first, so the guard's delete
 * comes first, is refused (`protect`), and the engine skips every resource it depends on: the
 * update fails and deletes nothing. A resource the program stops declaring on purpose is still
 * deleted (the guard is registered then, with its new dependencies). `pulumi destroy` needs
 * `pulumi state unprotect` of the guard first (docs/operations.md).
 */
export class StackGuard extends pulumi.ComponentResource {
    constructor(dependsOn: pulumi.Resource[], opts: pulumi.ComponentResourceOptions = {}) {
        super("physioflow:index:StackGuard", stackGuardName, {}, { ...opts, dependsOn, protect: true });
        this.registerOutputs({});
    }
}
