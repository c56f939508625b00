/**
 * The program version, read from deno.json so a release bumps one place.
 * @module
 */

import meta from "../deno.json" with { type: "json" };

/** queuectl's version. */
export const VERSION: string = meta.version;
