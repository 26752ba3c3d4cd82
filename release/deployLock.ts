/**
 * One deploy at a time per stack: a coordination.k8s.io Lease, `physioflow-deploy`, in the
 * stack's namespace. Taking it is a create (the API server refuses a second one); the holder
 * renews it while it works and deletes it when done. A Lease nobody renewed for its duration was
 * left by a killed deploy and is taken over (with optimistic concurrency, so two takers cannot
 * both win); so is, at once, a Lease held by a process of this machine that no longer exists.
 *
 * A holder that lost its Lease (deleted, taken over, or not renewed for half its duration) must
 * stop before its next change: {@link DeployLock.check} says so, and the renewal stops.
 */
import * as os from "os";
import { Kubectl } from "./clusterState";
import { processAlive } from "../devenv/engineTemp";
import { kubectlGet } from "../devenv/kubectl";
import type { Lease } from "./kubernetesObjects";

export const deployLockName = "physioflow-deploy";

export interface DeployLock {
    /** Who holds it, as written in the Lease. */
    holder: string;
    /** Set when a stale Lease was taken over: who had held it. */
    tookOverFrom?: string;
    /** Stops renewing and deletes the Lease (only if it is still ours). Safe to call twice. */
    release(): Promise<void>;
    /**
     * Throws {@link DeployLockLostError} when the lock is no longer ours: the Lease is gone or
     * names another holder (read now), or no renewal succeeded for half the Lease's duration.
     * A reading that fails for another reason counts as nothing (the renewal judges those).
     */
    check(): Promise<void>;
}

/** The deploy lock was lost while its holder worked: another command may hold it now. */
export class DeployLockLostError extends Error {
    constructor(
        readonly namespace: string,
        /** Why, e.g. `Lease physioflow-deploy is gone`. */
        readonly reason: string,
    ) {
        super(`the deploy lock of ${namespace} was lost (${reason})`);
        this.name = "DeployLockLostError";
    }
}

/** A deploy holds the lock; the message names the holder and since when. */
export class DeployLockedError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "DeployLockedError";
    }
}

export interface LockOptions {
    /** What the holder is doing, e.g. `deploy v1.3.0`. */
    purpose: string;
    /** Seconds without renewal after which the Lease counts as abandoned. Default 60. */
    durationSeconds?: number;
    /** Renewal interval in ms. Default a quarter of the duration. */
    renewEveryMs?: number;
    /** Now, for the stale check (tests). */
    now?: () => Date;
}

/** Takes the deploy lock of `namespace`, or throws {@link DeployLockedError}. */
export async function acquireDeployLock(kubectl: Kubectl, namespace: string, options: LockOptions): Promise<DeployLock> {
    const durationSeconds = options.durationSeconds ?? 60;
    const now = options.now ?? (() => new Date());
    const holder = `${os.userInfo().username}@${os.hostname()} pid ${process.pid}: ${options.purpose}`;
    const lease = (resourceVersion?: string) =>
        JSON.stringify({
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: deployLockName, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
            spec: { holderIdentity: holder, leaseDurationSeconds: durationSeconds, acquireTime: microTime(now()), renewTime: microTime(now()) },
        });

    let tookOverFrom: string | undefined;
    try {
        await kubectl(["create", "-f", "-", "-o", "name"], lease());
    } catch (error) {
        if (!/AlreadyExists|already exists/.test((error as Error).message)) throw error;
        const current = await readLease(kubectl, namespace);
        const renewed = Date.parse(current.spec?.renewTime ?? current.spec?.acquireTime ?? current.metadata.creationTimestamp);
        const duration = current.spec?.leaseDurationSeconds ?? durationSeconds;
        const other = current.spec?.holderIdentity ?? "(unknown)";
        const gone = holderGone(other);
        if (now().getTime() - renewed < duration * 1000 && !gone) {
            throw new DeployLockedError(
                `another deploy holds ${namespace}: ${other}, since ${current.spec?.acquireTime ?? "?"} (Lease ${deployLockName}, renewed ${Math.round((now().getTime() - renewed) / 1000)} s ago); wait for it to finish`,
            );
        }
        // Abandoned: replace it, but only the version we read (a concurrent taker makes this fail).
        try {
            await kubectl(["replace", "-f", "-", "-o", "name"], lease(current.metadata.resourceVersion));
        } catch (replaceError) {
            throw new DeployLockedError(`another deploy took over the abandoned lock of ${namespace} first: ${(replaceError as Error).message}`);
        }
        tookOverFrom = gone ? `${other} (its process is gone)` : other;
    }

    let released = false;
    let lost: string | undefined;
    let renewedAt = Date.now();
    const renewEveryMs = options.renewEveryMs ?? durationSeconds * 250;
    // A JSON patch whose `test` fails when another holder replaced the Lease: renewing never takes it back.
    const renewal = () =>
        JSON.stringify([
            { op: "test", path: "/spec/holderIdentity", value: holder },
            { op: "replace", path: "/spec/renewTime", value: microTime(now()) },
        ]);
    // Why the Lease is no longer ours, read now; undefined when it is, or when it cannot be read.
    const whyNotOurs = async (): Promise<string | undefined> => {
        try {
            const current = await readLease(kubectl, namespace);
            const other = current.spec?.holderIdentity;
            return other === holder ? undefined : `Lease ${deployLockName} is held by ${other ?? "(nobody)"}`;
        } catch (error) {
            return /NotFound|not found/.test((error as Error).message) ? `Lease ${deployLockName} is gone` : undefined;
        }
    };
    let renewing = false;
    const renew = setInterval(() => {
        if (lost || released || renewing) return;
        renewing = true;
        const sentAt = Date.now();
        kubectl(["patch", "lease", deployLockName, "-n", namespace, "--type", "json", "-p", renewal()])
            .then(
                () => {
                    renewedAt = sentAt;
                },
                async (error: Error) => {
                    const why = await whyNotOurs();
                    lost ??= why; // read after the await: a check() meanwhile may have set it
                    if (!lost && Date.now() - renewedAt >= (durationSeconds * 1000) / 2) {
                        lost = `not renewed for ${Math.round((Date.now() - renewedAt) / 1000)} s: ${error.message}`;
                    }
                    if (lost) clearInterval(renew);
                },
            )
            .finally(() => {
                renewing = false;
            });
    }, renewEveryMs);
    renew.unref();
    return {
        holder,
        tookOverFrom,
        check: async () => {
            const why = lost ? undefined : await whyNotOurs();
            lost ??= why; // read after the await: the renewal meanwhile may have set it
            if (lost) {
                clearInterval(renew);
                throw new DeployLockLostError(namespace, lost);
            }
        },
        release: async () => {
            if (released) return;
            released = true;
            clearInterval(renew);
            try {
                const current = await readLease(kubectl, namespace);
                if (current.spec?.holderIdentity !== holder) return; // taken over meanwhile: not ours to delete
                await kubectl(["delete", "lease", deployLockName, "-n", namespace, "--wait=false"]);
            } catch {
                // Already gone, or the API is unreachable: it expires by itself after its duration.
            }
        },
    };
}

/**
 * True when `holder` (`user@host pid N: …`, as written by {@link acquireDeployLock}) names a
 * process of this machine that no longer runs: its deploy was killed, its Lease need not expire.
 */
export function holderGone(holder: string, hostname = os.hostname(), alive = processAlive): boolean {
    const match = /^[^@\s]+@(\S+) pid (\d+):/.exec(holder);
    return match !== null && match[1] === hostname && Number(match[2]) !== process.pid && !alive(Number(match[2]));
}

/** Who holds the deploy lock of `namespace` and whether it is stale; undefined when free. */
export async function readDeployLock(
    kubectl: Kubectl,
    namespace: string,
    now = new Date(),
): Promise<{ holder: string; since: string; stale: boolean } | undefined> {
    let current: Lease;
    try {
        current = await readLease(kubectl, namespace);
    } catch (error) {
        if (/NotFound|not found/.test((error as Error).message)) return undefined;
        throw error;
    }
    const renewed = Date.parse(current.spec?.renewTime ?? current.spec?.acquireTime ?? current.metadata.creationTimestamp);
    return {
        holder: current.spec?.holderIdentity ?? "(unknown)",
        since: current.spec?.acquireTime ?? current.metadata.creationTimestamp,
        stale: now.getTime() - renewed >= (current.spec?.leaseDurationSeconds ?? 60) * 1000 || holderGone(current.spec?.holderIdentity ?? ""),
    };
}

/**
 * Waits until nobody (else) holds the deploy lock of `namespace`: the Lease is gone, stale, or
 * `ours`. For an emergency rollback that went ahead of a deploy it aborted: that deploy stops at
 * its next check, but a stack update it is running ends first. Resolves to false after
 * `timeoutMs` (default 10 minutes) with the lock still held.
 */
export async function waitForDeployLock(
    kubectl: Kubectl,
    namespace: string,
    options: { ours?: string; timeoutMs?: number; intervalMs?: number } = {},
): Promise<boolean> {
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60 * 1000);
    for (;;) {
        const lock = await readDeployLock(kubectl, namespace).catch(() => ({ holder: "(unreadable)", since: "", stale: false }));
        if (!lock || lock.stale || lock.holder === options.ours) return true;
        if (Date.now() >= deadline) return false;
        await new Promise(resolve => setTimeout(resolve, options.intervalMs ?? 250));
    }
}

function readLease(kubectl: Kubectl, namespace: string): Promise<Lease> {
    return kubectlGet<Lease>(kubectl, ["lease", deployLockName, "-n", namespace]);
}

/** Kubernetes MicroTime: RFC 3339 with microseconds. */
function microTime(date: Date): string {
    return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
