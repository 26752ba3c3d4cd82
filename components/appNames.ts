import { colors } from "./colors";

/** The two apps: each one's Deployments' `app` label and its live Service's name, by the key the settings use. */
export const appNames = { api: "physioflow-api", web: "physioflow-web" } as const;

/** Both apps' names, API first. */
export const allAppNames: readonly string[] = [appNames.api, appNames.web];

/** The `migration-version` ConfigMap's name (runbook Appendix B). */
export const migrationVersionMapName = "migration-version";

/**
 * The objects the program declares under a fixed name in the stack's namespace, as `Kind/name`:
 * the ones a cluster set up by hand from the runbook may already hold (`kubectl apply` of
 * `physioflow-api-blue`, the live Service `physioflow-api`, ...), which `physioflow import`
 * adopts when it finds them (components/adoption.ts). Everything else the program declares in the
 * namespace has a name the engine picks (each color's ConfigMaps and Secret) and cannot collide.
 * A PodDisruptionBudget is declared only with more than one replica; listed or not, it is adopted
 * only where declared.
 */
export function namedObjects(): string[] {
    return [
        ...allAppNames.flatMap(app => [
            ...colors.map(color => `Deployment/${app}-${color}`),
            `Service/${app}`,
            `Service/${app}-preview`,
            ...colors.map(color => `Service/${app}-${color}`),
            `PodDisruptionBudget/${app}`,
        ]),
        `ConfigMap/${migrationVersionMapName}`,
    ];
}
