/** The two apps: each one's Deployments' `app` label and its live Service's name, by the key the settings use. */
export const appNames = { api: "physioflow-api", web: "physioflow-web" } as const;

/** Both apps' names, API first. */
export const allAppNames: readonly string[] = [appNames.api, appNames.web];
