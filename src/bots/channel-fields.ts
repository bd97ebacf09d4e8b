import { z } from 'zod';

/**
 * Config and env fields several channels declare the same way. A credential
 * is a string that may be left unset (the agent is then listed as lacking it,
 * not a config error); an optional URL is an API base a channel can be
 * pointed at instead of the platform's own.
 */
export const credentialField = () => z.string().default('');

/** An optional URL variable; empty means unset. `example` completes "expected a URL (…)". */
export const optionalUrlField = (example: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .pipe(z.url({ message: `expected a URL (${example})` }).optional());
