/**
 * Tells the team (the runbook posts to Slack): a JSON message to the stack's `notifyWebhookUrl`
 * on a switch, an automatic rollback, an automatic rollback that failed (an alarm: act now), a
 * rollback (emergency or with a database restore). A notification that cannot be delivered is
 * reported and never fails the release.
 */
export type NotifyEvent = "switch" | "automatic-rollback" | "automatic-rollback-failed" | "emergency-rollback" | "rollback" | "restore-rollback";

export interface Notification {
    event: NotifyEvent;
    namespace: string;
    from: string;
    to: string;
    tag?: string;
    reason?: string;
    /** The live color read back from the cluster after the event (`blue`, `green`, `mixed` or `unknown`), where the event is an automatic rollback. */
    live?: string;
    /** One line for people (Slack shows `text`). */
    text: string;
}

/** Posts `notification` to `url` (5 s timeout); resolves to a line describing a failure, or undefined. */
export async function notify(url: string | undefined, notification: Notification): Promise<string | undefined> {
    if (url === undefined) return undefined;
    try {
        const response = await fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(notification),
            signal: AbortSignal.timeout(5000),
        });
        return response.ok ? undefined : `notification not delivered: ${url} answered ${response.status}`;
    } catch (error) {
        return `notification not delivered: ${(error as Error).message}`;
    }
}

/** {@link notify}, a failed delivery printed through `out` as a warning: what the release commands do. */
export async function tellTeam(url: string | undefined, notification: Notification, out: (line: string) => void): Promise<void> {
    const failed = await notify(url, notification);
    if (failed) out(`warning: ${failed}`);
}
