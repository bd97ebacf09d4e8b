import { z } from 'zod';
import { ValidationError, type Issue } from '../core/errors.js';
import { AUTONOMY_LEVELS, businessHoursSchema, type CoordinatorConfig } from './config-schema.js';
import { LOG_LEVELS, type Env } from './env.js';
import { zodIssues } from './zod-issues.js';

/**
 * What `PATCH /config` may change at run time. Everything else (ports, storage,
 * credentials) needs a restart and is changed in the environment or the file.
 */
export const overridesSchema = z.strictObject({
  logLevel: z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` }).optional(),
  healthIntervalMs: z.number({ message: 'expected a number of milliseconds' }).int('expected whole milliseconds').min(1000, 'expected at least 1000 ms').max(3_600_000, 'expected at most 3600000 ms (one hour)').optional(),
  defaults: z.strictObject({ autonomy: z.enum(AUTONOMY_LEVELS).optional() }).optional(),
  branches: z
    .record(
      z.string(),
      z.strictObject({
        autonomy: z.enum(AUTONOMY_LEVELS, { message: `expected one of ${AUTONOMY_LEVELS.join(', ')}` }).optional(),
        businessHours: businessHoursSchema,
      }),
    )
    .optional(),
});
export type Overrides = z.infer<typeof overridesSchema>;

/**
 * Applies a JSON merge patch (RFC 7396: `null` removes a key) to the current
 * overrides and validates the result, including that every branch exists.
 * Throws ValidationError naming each bad path; the input objects are not touched.
 */
export function mergeOverrides(current: Overrides, patch: unknown, config: CoordinatorConfig): Overrides {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new ValidationError('Expected a JSON object with the settings to change', [{ path: '', message: 'expected an object' }]);
  }
  const merged = mergePatch(current, patch);
  const parsed = overridesSchema.safeParse(merged);
  if (!parsed.success) throw new ValidationError('Invalid configuration change', zodIssues(parsed.error));
  const issues: Issue[] = [];
  const known = new Set(config.branches.map((b) => b.id));
  for (const id of Object.keys(parsed.data.branches ?? {})) {
    if (!known.has(id)) issues.push({ path: `branches.${id}`, message: `unknown branch '${id}' (known: ${[...known].join(', ') || 'none'})` });
  }
  if (issues.length > 0) throw new ValidationError('Invalid configuration change', issues);
  return parsed.data;
}

/** Keys that would reach an object's prototype instead of a field (`{"__proto__": {...}}` set the merged object's prototype). */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function mergePatch(target: unknown, patch: unknown, path = ''): unknown {
  if (!patch || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (PROTOTYPE_KEYS.has(key)) throw new ValidationError('Invalid configuration change', [{ path: path + key, message: `'${key}' is not a setting` }]);
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value, `${path}${key}.`);
  }
  return base;
}

/** The settings in force: file config with overrides on top, plus the env values that overrides can change. */
export function applyOverrides(env: Env, config: CoordinatorConfig, overrides: Overrides): { env: Env; config: CoordinatorConfig } {
  return {
    env: {
      ...env,
      LOG_LEVEL: overrides.logLevel ?? env.LOG_LEVEL,
      HEALTH_INTERVAL_MS: overrides.healthIntervalMs ?? env.HEALTH_INTERVAL_MS,
    },
    config: {
      ...config,
      defaults: { ...config.defaults, ...stripUndefined(overrides.defaults ?? {}) },
      branches: config.branches.map((b) => ({ ...b, ...stripUndefined(overrides.branches?.[b.id] ?? {}) })),
    },
  };
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}
