/** Small shared ways of saying what happened, so every report and message says it the same way. */
import type { ProcessSummary } from './types.js';

/** "exit 1", "killed by SIGKILL (deadline)", or "not run". */
export function exitText(p: ProcessSummary | undefined): string {
  if (!p) return 'not run';
  if (p.signal) return `killed by ${p.signal}${p.timedOut ? ' (deadline)' : ''}`;
  return `exit ${p.exitCode}`;
}

/** The median of a non-empty list (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
