/**
 * Runs ours and its reference alternately (A B A B …) in one process, so drift
 * of the machine (other load, CPU boost, page cache) falls on both alike, and
 * prints each one's median with its spread and the ratio of the medians.
 */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

export function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, runs: sorted.length };
}

/** `ours` and `reference` each return one measurement (higher is better); run `rounds` times each, alternating. */
export async function interleave<A, B>(rounds: number, ours: () => Promise<A>, reference: () => Promise<B>): Promise<{ ours: A[]; reference: B[] }> {
  const out = { ours: [] as A[], reference: [] as B[] };
  for (let i = 0; i < rounds; i++) {
    out.ours.push(await ours());
    out.reference.push(await reference());
  }
  return out;
}

/** "1234 ops/s (min 1100, max 1300, 3 runs)". */
export function show(s: Spread, unit: string, digits = 0): string {
  return `${s.median.toFixed(digits).padStart(7)} ${unit} (min ${s.min.toFixed(digits)}, max ${s.max.toFixed(digits)}, ${s.runs} runs)`;
}

export function ratio(ours: Spread, reference: Spread): string {
  return (ours.median / reference.median).toFixed(2);
}
