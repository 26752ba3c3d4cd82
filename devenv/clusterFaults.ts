/**
 * Failures on the simulated cluster: kwok plays every pod's lifecycle by Stages; a Stage of higher
 * weight than its default `pod-ready` takes over for the pods it selects. The demo injects
 * {@link neverReadyStage}; the failures only tests inject, and the sampler that watches the live
 * Service while they happen, are in tests/support/clusterFaults.ts.
 */

/**
 * A kwok Stage that starts the pods with `labels` in `namespace` as Running but never Ready (a
 * readiness probe that keeps failing): what a broken release looks like to Kubernetes. With
 * `phases` `["Running"]` it takes pods that were ready out of readiness (an app that broke after its start).
 */
export function neverReadyStage(name: string, namespace: string, labels: Record<string, string>, phases = ["Pending"]): string {
    return podStage(name, namespace, labels, phases, runningPodStatus(false));
}

/**
 * kwok's status template of a Running pod whose containers started, Ready or not (`ready`): the
 * status {@link neverReadyStage} gives, and the one a Stage that only delays readiness gives.
 */
export function runningPodStatus(ready: boolean): string[] {
    const status = ready ? 'status: "True"' : 'status: "False", reason: ContainersNotReady';
    return [
        "{{ $now := Now }}",
        "conditions:",
        '- { type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }} }',
        `- { type: Ready, ${status}, lastTransitionTime: {{ $now | Quote }} }`,
        `- { type: ContainersReady, ${status}, lastTransitionTime: {{ $now | Quote }} }`,
        "containerStatuses:",
        "{{ range .spec.containers }}",
        `- { image: {{ .image | Quote }}, name: {{ .name | Quote }}, ready: ${ready}, started: true, restartCount: 0, state: { running: { startedAt: {{ $now | Quote }} } } }`,
        "{{ end }}",
        "hostIP: {{ NodeIPWith .spec.nodeName | Quote }}",
        'podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}',
        "phase: Running",
        "startTime: {{ $now | Quote }}",
    ];
}

/**
 * A Stage (weight 10000, above kwok's defaults) for the live pods with `labels` in `namespace` in
 * one of `phases`, giving them the status `statusTemplate` (kwok's Go template, one line per entry).
 * Stages are cluster-wide: without the namespace a Stage would also take the pods with the same
 * labels in every other namespace (the test suites share a control plane, one namespace each).
 * With `delayMs`, kwok applies the status that long after the pod matches.
 */
export function podStage(
    name: string,
    namespace: string,
    labels: Record<string, string>,
    phases: string[],
    statusTemplate: string[],
    delayMs?: number,
): string {
    return JSON.stringify({
        apiVersion: "kwok.x-k8s.io/v1alpha1",
        kind: "Stage",
        metadata: { name },
        spec: {
            resourceRef: { apiGroup: "v1", kind: "Pod" },
            selector: {
                matchLabels: labels,
                matchExpressions: [
                    { key: ".metadata.namespace", operator: "In", values: [namespace] },
                    { key: ".metadata.deletionTimestamp", operator: "DoesNotExist" },
                    { key: ".status.phase", operator: "In", values: phases },
                ],
            },
            weight: 10000,
            ...(delayMs !== undefined ? { delay: { durationMilliseconds: delayMs } } : {}),
            next: { statusTemplate: statusTemplate.join("\n") },
        },
    });
}
