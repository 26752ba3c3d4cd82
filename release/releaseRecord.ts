/**
 * The release record: what the release commands know about the release in progress (or the last
 * one) that neither the stack file nor the cluster's objects say by themselves. One ConfigMap,
 * `physioflow-release`, in the stack's namespace, its `record` key a JSON {@link ReleaseRecord}.
 * It lives in the cluster so every process and checkout sees the same one (a second terminal's
 * emergency rollback, a colleague's stale checkout, the `up-dev` workflow), and it is changed
 * with optimistic concurrency (a read-modify-write that loses a race is retried on the new
 * version), so two commands writing at once both land. A process writes over the version it last
 * read or wrote without reading it again: the write is refused when anyone wrote since, and only
 * then is the record read (a deploy step changes it up to three times: one kubectl run each).
 */
import * as os from "os";
import type { Color } from "../components/colors";
import type { Kubectl } from "./clusterState";
import { kubectlGet } from "../devenv/kubectl";
import type { ConfigMap } from "./kubernetesObjects";

export const releaseRecordName = "physioflow-release";

/** A release plan: `tag` to color `to`, `from` live when it began. */
export interface ReleasePlan {
    tag: string;
    from: Color;
    to: Color;
    /** Who runs it (`user@host pid N`), and since when (ISO time). */
    by: string;
    startedAt: string;
}

/** An emergency rollback (or another command) aborted the release in progress. */
export interface ReleaseAbort {
    by: string;
    at: string;
    reason: string;
}

/** Something the team must act on; `status` shows it until it is resolved. */
export interface ReleaseAlarm {
    /** e.g. `automatic-rollback-failed`. */
    kind: string;
    at: string;
    /** One line for people. */
    text: string;
}

export interface ReleaseRecord {
    /** The release in progress, or the last one. */
    release?: ReleasePlan & { phase: string };
    /** Set when the release in `release` was aborted; a running deploy stops before its next step. */
    aborted?: ReleaseAbort;
    /**
     * Stack config a command wrote to the stack file and has not applied yet (keys without
     * `physioflow:`): an update cut short leaves the file ahead of the stack's outputs, and this
     * tells that apart from a stale checkout.
     */
    pendingConfig?: Record<string, string>;
    /** Alarms not yet resolved. */
    alarms?: ReleaseAlarm[];
}

/** The record as this process last read or wrote it, with its version: per kubectl (cluster), per namespace. */
interface KnownRecord {
    record: ReleaseRecord;
    resourceVersion?: string;
}
const lastKnown = new WeakMap<Kubectl, Map<string, KnownRecord>>();
const known = (kubectl: Kubectl): Map<string, KnownRecord> => {
    let byNamespace = lastKnown.get(kubectl);
    if (byNamespace === undefined) lastKnown.set(kubectl, (byNamespace = new Map<string, KnownRecord>()));
    return byNamespace;
};

/** Reads the record; `{}` when there is none. */
export async function readReleaseRecord(kubectl: Kubectl, namespace: string): Promise<ReleaseRecord> {
    return structuredClone((await readWithVersion(kubectl, namespace)).record);
}

async function readWithVersion(kubectl: Kubectl, namespace: string): Promise<KnownRecord> {
    let configMap: ConfigMap;
    try {
        configMap = await kubectlGet<ConfigMap>(kubectl, ["configmap", releaseRecordName, "-n", namespace]);
    } catch (error) {
        if (/NotFound|not found/.test((error as Error).message)) return remember(kubectl, namespace, { record: {} });
        throw error;
    }
    const text = configMap.data?.record;
    let record: ReleaseRecord = {};
    if (text !== undefined) {
        try {
            record = JSON.parse(text) as ReleaseRecord;
        } catch {
            throw new Error(`ConfigMap ${releaseRecordName} in ${namespace} holds no valid JSON under "record"; delete it or fix it by hand`);
        }
    }
    return remember(kubectl, namespace, { record, resourceVersion: configMap.metadata.resourceVersion });
}

function remember(kubectl: Kubectl, namespace: string, record: KnownRecord): KnownRecord {
    known(kubectl).set(namespace, record);
    return record;
}

/**
 * Changes the record with `change` (given the current record, returns the new one) and writes it
 * back only over the version this process last read or wrote (read first when it knows none); a
 * write refused because another writer came in between (a conflict, or the record deleted) reads
 * the record again and re-applies `change` (up to 10 times). Resolves to the record written.
 */
export async function updateReleaseRecord(kubectl: Kubectl, namespace: string, change: (record: ReleaseRecord) => ReleaseRecord): Promise<ReleaseRecord> {
    let current = known(kubectl).get(namespace);
    for (let attempt = 0; ; attempt++) {
        current ??= await readWithVersion(kubectl, namespace);
        const { record, resourceVersion } = current;
        const next = change(structuredClone(record));
        const manifest = JSON.stringify({
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: {
                name: releaseRecordName,
                namespace,
                labels: { "app.kubernetes.io/managed-by": "physioflow-release" },
                ...(resourceVersion ? { resourceVersion } : {}),
            },
            data: { record: JSON.stringify(next) },
        });
        try {
            const written = await kubectl([resourceVersion ? "replace" : "create", "-f", "-", "-o", "jsonpath={.metadata.resourceVersion}"], manifest);
            remember(kubectl, namespace, { record: structuredClone(next), resourceVersion: written.trim() });
            return next;
        } catch (error) {
            known(kubectl).delete(namespace);
            current = undefined;
            const message = (error as Error).message;
            // Replaced over a version that is gone: the record was deleted since (a new namespace's is created).
            const deleted = resourceVersion !== undefined && /NotFound|not found/.test(message);
            const raced = deleted || /Conflict|the object has been modified|AlreadyExists|already exists/.test(message);
            if (!raced || attempt >= 9) throw error;
        }
    }
}

/** Adds `alarm` to the record's unresolved alarms. */
export async function raiseAlarm(kubectl: Kubectl, namespace: string, alarm: ReleaseAlarm): Promise<void> {
    await updateReleaseRecord(kubectl, namespace, record => ({ ...record, alarms: [...(record.alarms ?? []), alarm] }));
}

/**
 * Resolves the record's alarms (a deploy or rollback of the namespace succeeded): removes them
 * and resolves to those removed. Writes nothing when there are none.
 */
export async function clearAlarms(kubectl: Kubectl, namespace: string): Promise<ReleaseAlarm[]> {
    if (((await readReleaseRecord(kubectl, namespace)).alarms ?? []).length === 0) return [];
    let cleared: ReleaseAlarm[] = [];
    await updateReleaseRecord(kubectl, namespace, record => {
        cleared = record.alarms ?? [];
        delete record.alarms;
        return record;
    });
    return cleared;
}

/**
 * Marks the release in progress as aborted (`aborted`): a running deploy stops before its next
 * step or watch reading and says who aborted it. The mark stays until the next deploy starts (it
 * clears a mark older than its lock). `by` defaults to this process (`user@host pid N`).
 */
export async function abortRelease(
    kubectl: Kubectl,
    namespace: string,
    reason: string,
    by = `${os.userInfo().username}@${os.hostname()} pid ${process.pid}`,
): Promise<ReleaseAbort> {
    const aborted: ReleaseAbort = { by, at: new Date().toISOString(), reason };
    await updateReleaseRecord(kubectl, namespace, record => ({ ...record, aborted }));
    return aborted;
}

/**
 * Records `config` (keys without `physioflow:`) as written to the stack file and not yet applied,
 * merged with what is pending already (an earlier update cut short: the file still holds it).
 * Call it before the stack file is written. Resolves to what is pending now.
 */
export async function recordPendingConfig(kubectl: Kubectl, namespace: string, config: Record<string, string>): Promise<Record<string, string>> {
    const record = await updateReleaseRecord(kubectl, namespace, r => ({ ...r, pendingConfig: { ...r.pendingConfig, ...config } }));
    return record.pendingConfig ?? {};
}

/**
 * After an update applied the stack file: forgets the pending config `applied` (what
 * {@link recordPendingConfig} resolved to). A key another command recorded with another value
 * since stays pending.
 */
export async function clearPendingConfig(kubectl: Kubectl, namespace: string, applied: Record<string, string>): Promise<void> {
    await updateReleaseRecord(kubectl, namespace, r => {
        const left = Object.entries(r.pendingConfig ?? {}).filter(([key, value]) => applied[key] !== value);
        const next: ReleaseRecord = { ...r, pendingConfig: Object.fromEntries(left) };
        if (left.length === 0) delete next.pendingConfig;
        return next;
    });
}
