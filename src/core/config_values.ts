/**
 * The walk of a configuration mapping against its schema
 * (`config_schema.ts`): unknown, mis-cased and retired keys reported with
 * the fix, each known key read with its default and type-checked.
 *
 * @module
 */

import { type KeySpec, RETIRED_KEYS, type SectionSpec } from "./config_schema.ts";
import { suggestKey } from "./key_suggestions.ts";

/** The values of section `name`, its unknown keys reported. */
export function readMapping(
  raw: Record<string, unknown>,
  name: string,
  spec: SectionSpec,
  problems: string[],
): Record<string, unknown> {
  const section = sectionObject(raw, name, problems);
  checkKeys(section, spec, `${name}.`, problems);
  return readSection(section, spec, `${name}.`, problems);
}

/** Section `name` of `raw` as a mapping (empty when absent); a section that is not a mapping is a problem. */
export function sectionObject(raw: Record<string, unknown>, name: string, problems: string[]): Record<string, unknown> {
  const value = raw[name];
  if (value === undefined || value === null) return {};
  if (!isPlainObject(value)) {
    problems.push(`${name} must be a mapping of keys`);
    return {};
  }
  return value;
}

/** Reports unknown, mis-cased and retired keys. */
export function checkKeys(raw: Record<string, unknown>, spec: SectionSpec, prefix: string, problems: string[]): void {
  const known = Object.keys(spec);
  for (const key of Object.keys(raw)) {
    if (key in spec) continue;
    const path = `${prefix}${key}`;
    const retired = RETIRED_KEYS[path];
    if (retired) {
      problems.push(`${path} is not a CoreDog key: ${retired}`);
      continue;
    }
    const suggestion = suggestKey(key, known);
    problems.push(
      suggestion?.kind === "case"
        ? `unknown key ${path}: keys are case-sensitive, write ${prefix}${suggestion.key}`
        : suggestion?.kind === "typo"
        ? `unknown key ${path}: did you mean ${prefix}${suggestion.key}?`
        : `unknown key ${path}; known keys here: ${known.join(", ")}`,
    );
  }
}

/** Reads each key of a section, applying defaults and type checks. */
export function readSection(
  raw: Record<string, unknown>,
  spec: SectionSpec,
  prefix: string,
  problems: string[],
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [key, keySpec] of Object.entries(spec)) {
    const value = raw[key];
    values[key] = value === undefined || value === null
      ? keySpec.default
      : checkValue(value, keySpec, `${prefix}${key}`, problems);
  }
  return values;
}

/** `value` checked against `spec`: the value (converted where YAML spelled it loosely), or the default and a problem. */
function checkValue(value: unknown, spec: KeySpec, path: string, problems: string[]): unknown {
  const type = spec.type;
  switch (type.kind) {
    case "string":
      if (typeof value === "string") return value;
      if (typeof value === "number") return String(value);
      problems.push(`${path} must be a string, got ${describe(value)}`);
      return spec.default;
    case "url":
      if (typeof value !== "string") {
        problems.push(`${path} must be a URL string, got ${describe(value)}`);
        return spec.default;
      }
      if (value !== "" && !isHttpUrl(value)) {
        problems.push(`${path} "${value}" is not an http(s) URL`);
        return spec.default;
      }
      return value;
    case "bool":
      if (typeof value === "boolean") return value;
      if (value === "true" || value === "false") return value === "true";
      problems.push(`${path} must be true or false, got ${describe(value)}`);
      return spec.default;
    case "int": {
      const n = typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== "number" || !Number.isInteger(n)) {
        problems.push(`${path} must be a whole number, got ${describe(value)}`);
        return spec.default;
      }
      if (n < type.min || n > type.max) {
        problems.push(`${path} ${n} is out of range; use ${type.min} to ${type.max}`);
        return spec.default;
      }
      return n;
    }
    case "enum":
      if (typeof value === "string" && type.values.includes(value)) return value;
      {
        const lower = typeof value === "string" ? type.values.find((v) => v === value.toLowerCase()) : undefined;
        problems.push(
          lower
            ? `${path} "${String(value)}" must be lower-case: ${lower}`
            : `${path} ${describe(value)} is not one of ${type.values.join(", ")}`,
        );
      }
      return spec.default;
    case "stringList":
      if (typeof value === "string") return value.split(",").map((s) => s.trim()).filter(Boolean);
      if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")) {
        return value.map(String);
      }
      problems.push(`${path} must be a list of strings, got ${describe(value)}`);
      return spec.default;
    case "stringMap":
      if (isPlainObject(value) && Object.values(value).every((v) => typeof v === "string" || typeof v === "number")) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
      }
      problems.push(`${path} must be a mapping of strings, got ${describe(value)}`);
      return spec.default;
  }
}

/** A value as a problem message shows it. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `"${value}"`;
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) return "a mapping";
  return String(value);
}

/** True for a mapping (not a list, not null). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** True for an absolute http or https URL with a host. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** `path` without trailing slashes (`/` stays `/`). */
export function trimTrailingSlash(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, "") : path;
}
