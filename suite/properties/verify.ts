/**
 * The shared verifiers, in the manner of h2spec's verifier.go: each common rule ("the bytes are the
 * same", "refused", "exit 0", "the server listened", "this errno") is stated here once, with the
 * expected-against-actual it reports, so a property only says which rule applies to what. Each throws
 * CheckFailure with message, expected, actual and the evidence it is given; `fail` is for the
 * one-off checks a single property makes.
 */
import { OutputCapture } from '../harness/capture.js';
import { exitText } from '../model/format.js';
import { CheckFailure, type ByteComparison, type Evidence, type ProcessSummary } from '../model/types.js';
import type { SessionOutcome } from './session.js';

/** What a verifier adds to its failure: the processes, the byte comparison, details. */
export type EvidenceFields = Omit<Evidence, 'message' | 'expected' | 'actual'>;

/** Fails the check: a property's own rule, stated by its message. */
export function fail(message: string, expected: string | undefined, actual: string | undefined, evidence: EvidenceFields = {}): never {
  throw new CheckFailure({ ...evidence, message, expected, actual });
}

/**
 * Fails unless `actual` holds exactly the `expected` bytes. A capture is compared by its own streaming
 * comparison (it was built to expect these bytes, and keeps only a head of a large stream); bytes in
 * memory are compared the same way. `what` is the sentence the offset completes, e.g. "stdout differs
 * from the payload" gives "stdout differs from the payload at offset 3 (expected 9 bytes, got 3)".
 * Returns the comparison.
 */
export function expectBytes(actual: OutputCapture | Uint8Array, expected: Uint8Array, what: string, evidence: EvidenceFields = {}): ByteComparison {
  const bytes = compareBytes(actual, expected);
  if (bytes.firstDifference === null) return bytes;
  fail(`${what} at offset ${bytes.firstDifference} (expected ${bytes.expectedLength} bytes, got ${bytes.actualLength})`, bytes.expectedContext, bytes.actualContext, { ...evidence, bytes });
}

function compareBytes(actual: OutputCapture | Uint8Array, expected: Uint8Array): ByteComparison {
  if (actual instanceof OutputCapture) {
    const bytes = actual.compare();
    if (bytes.expectedLength !== expected.length) throw new Error(`expectBytes: the capture expects ${bytes.expectedLength} bytes, not the ${expected.length} given`);
    return bytes;
  }
  const capture = new OutputCapture({ cap: actual.length, expected });
  capture.push(actual);
  return capture.compare();
}

export interface RefusalRule {
  /** What stderr must name: a substring (e.g. strerror's "No such file or directory") or a pattern. Absent: any error text. */
  errorText?: RegExp | string;
  /** The subject of the message, e.g. "a client given a missing path". */
  what: string;
}

/** Fails unless the process refused: a non-zero exit (not a signal) and the error named on stderr. */
export function expectRefused(summary: ProcessSummary, rule: RefusalRule, evidence: EvidenceFields = {}): void {
  const { errorText } = rule;
  const named = errorText === undefined ? summary.stderr.trim() !== '' : typeof errorText === 'string' ? summary.stderr.includes(errorText) : errorText.test(summary.stderr);
  if (summary.exitCode !== 0 && summary.exitCode !== null && named) return;
  const stderr = JSON.stringify(summary.stderr.slice(0, 200));
  const wanted = errorText === undefined ? 'an error on stderr' : typeof errorText === 'string' ? `stderr containing "${errorText}"` : `stderr matching ${errorText}`;
  fail(`${rule.what} ended with ${exitText(summary)} and stderr ${stderr}`, `non-zero exit, ${wanted}`, `${exitText(summary)}, stderr ${stderr}`, evidence);
}

/** Fails unless the process exited with status 0; `what` is the subject, e.g. "at EOF the client". */
export function expectExitZero(summary: ProcessSummary | undefined, what: string, evidence: EvidenceFields = {}): void {
  if (summary?.exitCode === 0) return;
  fail(`${what} ended with ${exitText(summary)}`, 'exit 0', exitText(summary), evidence);
}

/**
 * Fails unless a driver's answer carried the errno `expected` (its name, e.g. EACCES); `actual` is the
 * name it answered, null for success. `what` is the operation, e.g. "opening it by path".
 */
export function expectErrno(actual: string | null, expected: string, what: string, evidence: EvidenceFields = {}): void {
  if (actual === expected) return;
  fail(`${what} gave ${actual ?? 'success'}, not ${expected}`, expected, actual ?? 'success', evidence);
}

/** Fails the check unless the server reached the listening state; `details` join the failure's. */
export function requireReady(outcome: SessionOutcome, path: string, details?: Record<string, unknown>): asserts outcome is SessionOutcome & { client: ProcessSummary; stdout: OutputCapture } {
  if (outcome.ready.ready) return;
  fail(
    `server never listened at ${JSON.stringify(path)}: ${outcome.ready.detail}`,
    `a socket listening at ${JSON.stringify(path)}`,
    outcome.ready.reason === 'wrong-path' ? `listening at ${JSON.stringify(outcome.ready.boundPath)}` : outcome.ready.detail,
    { server: outcome.server, ...(details ? { details } : {}) },
  );
}
