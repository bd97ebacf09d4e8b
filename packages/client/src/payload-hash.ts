/** JSON with keys sorted at every level, no spaces and no undefined members: the coordinator's canonical form. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    return `{${Object.keys(obj)
      .sort()
      .filter((k) => obj[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

const hex = (bytes: ArrayBuffer) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The `payloadHash` the coordinator gives an approval of `actionType` with
 * `details`: SHA-256 (hex) of the canonical JSON of `{actionType, details}`.
 * Recompute it over what you are about to execute and refuse to act if it
 * differs from `approval.decision.payloadHash`. `details` is taken as it goes
 * over the wire (through JSON), so a Date counts as its ISO string.
 *
 * @example
 * if ((await payloadHash('refund', details)) !== approval.decision.payloadHash) throw new Error('not what was approved');
 */
export async function payloadHash(actionType: string, details?: unknown): Promise<string> {
  const wire = details === undefined ? undefined : (JSON.parse(JSON.stringify(details)) as unknown);
  const text = canonicalJson(wire === undefined ? { actionType } : { actionType, details: wire });
  return hex(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)));
}
