/** Small shared ways of saying what happened, so every report and message says it the same way. */
import type { ProcessSummary, Status } from './types.js';

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

/** The statuses that make a run exit 1: a failure, an unexpected pass, a harness error. */
export function isUnexpected(status: Status): boolean {
  return status === 'fail' || status === 'unexpected-pass' || status === 'error';
}

/**
 * Why a subject process that ended declares its case unsupported, if it does: exit status 127 from a
 * program that did start (the convention of interop runners; one that could not be started at all is
 * not excused this way), or an executable the case's uid may not run (only a privilege drop makes an
 * installed program unreachable, e.g. an interpreter under /root). `who` names it in the reason.
 */
export function declaredUnsupported(p: ProcessSummary, who: string): string | undefined {
  if (p.exitCode === 127 && !p.spawnFailed && p.how === 'process') return `${who} exited with status 127: it declares this case unsupported`;
  if (p.spawnFailed && /EACCES/.test(p.stderr)) return `${who} cannot be started as this user (${p.stderr.trim()}): install it where an unprivileged user can run it`;
  return undefined;
}

/** A count with its noun, singular or plural as the number wants: "1 byte", "0 bytes", "3 runs". */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
