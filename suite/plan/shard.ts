/**
 * `run --shard i/n`: a deterministic split of the run's cases (one property on one pairing, as planned
 * by planUnits) over n jobs. Case k of the plan goes to shard (k mod n) + 1, so the n shards together
 * run every case exactly once, each shard gets a mix of properties, and a case's seed (derived from the
 * run seed and the case alone) is the one a single run gives it.
 */
export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** Parses "i/n" (1 <= i <= n); returns an error message instead of throwing, for the CLI to word. */
export function parseShard(text: string): Shard | string {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) return `--shard must look like i/n (e.g. 2/3), got ${JSON.stringify(text)}`;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return `--shard ${text}: need 1 <= i <= n`;
  return { index, count };
}

export function shardOf<T>(units: readonly T[], shard: Shard): T[] {
  return units.filter((_, k) => k % shard.count === shard.index - 1);
}
