// Types of gen-api.mjs, for the test that runs its check.

/** The module docs/openapi.json generates (src/generated/api.ts as it should be). */
export function generate(): Promise<string>;
/** Why src/generated/api.ts is not what the document generates, or null when it is. */
export function drift(): Promise<string | null>;
