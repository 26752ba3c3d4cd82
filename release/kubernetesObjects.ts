/**
 * The Kubernetes objects the release code reads back from the API server, as `kubectl get -o json`
 * prints them: only the fields it reads, optional where the API may leave them out (a Service
 * without a selector, an EndpointSlice without endpoints, a Job not yet finished). The documents
 * enter through `kubectlGet` (devenv/kubectl.ts); nothing checks their shape at run time: these
 * say what the code expects of the API.
 */
/** `metadata.labels` / `annotations`: string to string. */
export type Labels = Record<string, string>;

/** `kubectl get KIND -o json` of several objects. */
export interface List<T> {
    items: T[];
}

export interface Service {
    metadata: { name: string };
    /** `selector` is absent for a Service without a selector (e.g. ExternalName); `ports` for one without ports. */
    spec: { selector?: Labels; ports?: ServicePort[] };
}

export interface ServicePort {
    /** Absent when the Service has a single port. */
    name?: string;
    port: number;
}

export interface EndpointSlice {
    /** `labels["kubernetes.io/service-name"]` names the Service it belongs to. */
    metadata: { name?: string; labels?: Labels };
    /** Null or absent when the Service has no endpoints. */
    endpoints?: Endpoint[] | null;
}

export interface Endpoint {
    conditions?: { ready?: boolean };
    targetRef?: { kind?: string; name?: string };
}

export interface Pod {
    /** `deletionTimestamp`: the pod is stopping (its preStop, then SIGTERM), still serving the connections it has. */
    metadata: { name: string; labels?: Labels; deletionTimestamp?: string };
    /** `containerStatuses` appears once the pod is scheduled. */
    status?: { containerStatuses?: ContainerStatus[] };
}

/** A container's status; `state.terminated.message` is its termination message (with `FallbackToLogsOnError`, its log's tail after a failure). */
export interface ContainerStatus {
    restartCount?: number;
    state?: { terminated?: { exitCode?: number; message?: string } };
}

export interface Deployment {
    metadata: { name: string; generation?: number };
    spec: {
        /** Absent means 1. */
        replicas?: number;
        template: { spec: { containers: Container[] } };
    };
    /** Absent (or without a count) before the controller has counted any such pod. */
    status?: { readyReplicas?: number; updatedReplicas?: number; availableReplicas?: number; observedGeneration?: number };
}

export interface Container {
    image?: string;
    /** The ConfigMaps and Secrets whose keys become the container's environment. */
    envFrom?: EnvFromSource[];
}

/** One of the two is set. */
export interface EnvFromSource {
    configMapRef?: { name: string };
    secretRef?: { name: string };
}

/** A Deployment or Job condition: `{ type: "Complete", status: "True" }`. */
export interface Condition {
    type: string;
    status: string;
}

export interface Job {
    /** `uid` is set on every object the API server returns. */
    metadata: { name: string; uid?: string };
    spec?: { template?: { metadata?: { annotations?: Labels } } };
    /** Conditions appear as the Job ends (`Complete`, `Failed`). */
    status?: { conditions?: Condition[] };
}

/** A coordination.k8s.io Lease (the deploy lock). */
export interface Lease {
    metadata: { creationTimestamp: string; resourceVersion: string };
    /** Times are MicroTime (RFC 3339 with microseconds). */
    spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };
}

export interface ConfigMap {
    metadata: { resourceVersion: string };
    /** Absent when the ConfigMap holds no keys. */
    data?: Record<string, string>;
}
