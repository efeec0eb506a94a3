/**
 * CoreDog's version, recorded in every metadata object.
 *
 * @module
 */

/** Kept equal to `version` in deno.json (a test checks). */
export const VERSION = "0.1.0";
