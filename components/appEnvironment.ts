import { StackConfig } from "./config";

/**
 * Non-secret environment of the API pods. The database login (`DATABASE_USER`, `POSTGRES_PASSWORD`)
 * is the color's own and comes from its Secret (components/appNamespace.ts).
 */
export function apiEnvironment(settings: StackConfig, port: number): Record<string, string> {
    return {
        APP_ENV: settings.environment,
        PORT: String(port),
        DATABASE_HOST: settings.database.podHost,
        DATABASE_PORT: String(settings.database.port),
        DATABASE_NAME: settings.database.name,
        KEYCLOAK_URL: settings.keycloak.url,
        KEYCLOAK_REALM: settings.keycloak.realm,
        KEYCLOAK_CLIENT_ID: settings.keycloak.clientId,
        APP_URL: settings.webUrl,
    };
}

/**
 * Environment of the web pods. Next.js bakes `NEXT_PUBLIC_*` into the image at build time (see the
 * runbook's docker build); they are repeated here for server-side code and for inspection.
 */
export function webEnvironment(settings: StackConfig, port: number): Record<string, string> {
    return {
        APP_ENV: settings.environment,
        PORT: String(port),
        NEXT_PUBLIC_API_URL: settings.apiUrl,
        NEXT_PUBLIC_APP_URL: settings.webUrl,
        NEXT_PUBLIC_KEYCLOAK_URL: settings.keycloak.url,
        NEXT_PUBLIC_KEYCLOAK_REALM: settings.keycloak.realm,
        NEXT_PUBLIC_KEYCLOAK_CLIENT_ID: settings.keycloak.clientId,
    };
}
