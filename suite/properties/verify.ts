/**
 * The shared verifiers, in the manner of h2spec's verifier.go: each common rule ("the bytes are the
 * same", "refused", "exit 0", "the server listened", "this errno") is stated here once, with the
 * expected-against-actual it reports, so a property only says which rule applies to what. Each throws
 * CheckFailure with message, expected, actual and the evidence it is given; `fail` is for the
 * one-off checks a single property makes.
 */
import { OutputCapture } from '../harness/capture.js';
import type { CaseContext, RunMode } from '../harness/context.js';
import { describePlace } from '../harness/readiness.js';
import { errnoText, namedErrno, type ErrnoName } from '../model/errno.js';
import { countOf, exitText } from '../model/format.js';
import { CheckFailure, type ByteComparison, type Evidence, type ProcessSummary, type Role } from '../model/types.js';
import { plainServe, session, type SessionOutcome } from './session.js';

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
 * from the payload" gives "stdout differs from the payload at offset 3 (got 3 of the 9 bytes expected)".
 * Returns the comparison.
 */
export function expectBytes(actual: OutputCapture | Uint8Array, expected: Uint8Array, what: string, evidence: EvidenceFields = {}): ByteComparison {
  const bytes = compareBytes(actual, expected);
  if (bytes.firstDifference === null) return bytes;
  fail(`${what} at offset ${bytes.firstDifference} (${lengthsText(bytes.actualLength, bytes.expectedLength)})`, bytes.expectedContext, bytes.actualContext, { ...evidence, bytes });
}

/** How an actual length compares with the expected one, e.g. "got 1838 bytes, 814 more than the 1024 expected". */
export function lengthsText(actual: number, expected: number): string {
  if (actual > expected) return `got ${countOf(actual, 'byte')}, ${actual - expected} more than the ${expected} expected`;
  if (actual < expected) return `got ${actual} of the ${countOf(expected, 'byte')} expected`;
  return `${countOf(actual, 'byte')}, as expected`;
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
  /**
   * The errnos that count as the refusal: stderr must name one of them, by its name (ENOENT), its
   * strerror text ("No such file or directory") or a library's wording of it (model/errno.ts), in any
   * case, as whole words. The way libraries print errors: Node prints the name, C and Go the text.
   */
  errno?: readonly ErrnoName[];
  /** What stderr must hold otherwise: a substring or a pattern. Neither: any error text. */
  errorText?: RegExp | string;
  /** The subject of the message, e.g. "a client given a missing path". */
  what: string;
}

/** What a refusal looked like, kept in a passing result's `observed`. */
export interface RefusalObserved extends Record<string, unknown> {
  exit: string;
  /**
   * The stderr line that named the errno (a traceback's first line says nothing), else the first
   * non-empty line; at most 200 characters.
   */
  stderr: string;
  /** The errno stderr named, when the rule asked for some. */
  errno?: ErrnoName;
}

/** The first non-empty line of a stderr, trimmed, at most 200 characters. */
export function firstLine(text: string): string {
  return (text.split('\n').find((line) => line.trim() !== '') ?? '').trim().slice(0, 200);
}

/**
 * Fails unless the process refused: a non-zero exit (not a signal) and the error named on stderr.
 * Returns what it observed, for the result. A refusal property calls requireWorksFirst before it: a
 * process that refuses everything has not refused this input.
 */
export function expectRefused(summary: ProcessSummary, rule: RefusalRule, evidence: EvidenceFields = {}): RefusalObserved {
  const { errno, errorText } = rule;
  const matched = errno ? namedErrno(summary.stderr, errno) : undefined;
  const named = errno
    ? matched !== undefined
    : errorText === undefined
      ? summary.stderr.trim() !== ''
      : typeof errorText === 'string'
        ? summary.stderr.includes(errorText)
        : errorText.test(summary.stderr);
  const naming = matched && summary.stderr.split('\n').find((line) => namedErrno(line, [matched]) !== undefined);
  const observed: RefusalObserved = { exit: exitText(summary), stderr: firstLine(naming || summary.stderr), ...(matched ? { errno: matched } : {}) };
  if (summary.exitCode !== 0 && summary.exitCode !== null && named) return observed;
  const stderr = JSON.stringify(summary.stderr.slice(0, 200));
  const wanted = errno
    ? `stderr naming ${errno.map(errnoText).join(' or ')}`
    : errorText === undefined
      ? 'an error on stderr'
      : typeof errorText === 'string'
        ? `stderr containing "${errorText}"`
        : `stderr matching ${errorText}`;
  fail(`${rule.what} ended with ${exitText(summary)} and stderr ${stderr}`, `non-zero exit, ${wanted}`, `${exitText(summary)}, stderr ${stderr}`, evidence);
}

/** The bytes a precondition session asks a payload-taking server to send (short, and not the fixed message). */

/** What the precondition session saw, kept in a passing result's `observed`. */
export interface WorksFirstObserved extends Record<string, unknown> {
  path: string;
  bytes: number;
}

/**
 * The precondition of every refusal property: the same implementation, in the same case, works with a
 * valid short path first, against the reference peer. For a server under test, the reference client
 * must receive the payload (the fixed message, for a server without one) and exit 0; for a client
 * under test, it must print what the reference server sent and exit 0. Otherwise the subject fails
 * with "the <role> does not work with a valid path: ..." and the evidence of that session: a server
 * that dies at every start (a usage error) or a client that never connects has refused nothing.
 * `mode` is the mode the refusal runs the role in. A reference peer that fails is the harness's error.
 */
export async function requireWorksFirst(ctx: CaseContext, role: Role, options: { mode?: RunMode } = {}): Promise<WorksFirstObserved> {
  const path = ctx.socketName();
  const server = ctx.server;
  const { payload, expected } = plainServe(server);
  const outcome = await session(ctx, { path, payload, expected, mode: options.mode });
  const subject = role === 'server' ? 'the server' : 'the client';
  const peer = role === 'server' ? `the reference client ${ctx.client.name}` : `the reference server ${ctx.server.name}`;
  const evidence: EvidenceFields = { server: outcome.server, client: outcome.client, details: { precondition: `a session at the valid path ${JSON.stringify(path)}` } };
  const failPrecondition = (what: string, wanted: string, actual: string, extra: EvidenceFields = {}): never =>
    fail(`${subject} does not work with a valid path: ${what}`, wanted, actual, { ...evidence, ...extra });
  if (!outcome.ready.ready) {
    const where = `never listened at ${JSON.stringify(path)}: ${outcome.ready.detail}`;
    // The reference is the oracle: if it cannot serve, the verdict is the harness's, not the client's.
    if (role === 'client') throw new Error(`precondition of a refusal: ${peer} ${where} (${exitText(outcome.server)})`);
    const ended = `${exitText(outcome.server)}, stderr ${JSON.stringify(firstLine(outcome.server.stderr))}`;
    failPrecondition(`it ${where} (${ended})`, `a socket listening at ${JSON.stringify(path)}`, ended);
  }
  const client = outcome.client!;
  const bytes = outcome.stdout!.compare();
  const printed = role === 'server' ? `${peer} received` : 'it printed';
  const problems: string[] = [];
  if (bytes.firstDifference !== null) {
    const { actualLength: got, expectedLength: sent } = bytes;
    problems.push(
      got < sent
        ? `${printed} ${countOf(got, 'byte')}, ${sent - got} fewer than the ${sent} sent`
        : got > sent
          ? `${printed} ${countOf(got, 'byte')}, ${got - sent} more than the ${sent} sent`
          : `${printed} the ${countOf(sent, 'byte')} sent with a difference at offset ${bytes.firstDifference}`,
    );
  }
  if (client.exitCode !== 0) {
    const who = role === 'server' ? peer : 'it';
    problems.push(`${who} ended with ${exitText(client)}${client.stderr.trim() ? ` and stderr ${JSON.stringify(firstLine(client.stderr))}` : ''}`);
  }
  if (problems.length > 0) {
    failPrecondition(
      problems.join('; '),
      `${role === 'server' ? peer : 'the client'} prints the ${countOf(expected.length, 'byte')} sent and exits 0`,
      `${countOf(bytes.actualLength, 'byte')}${bytes.firstDifference !== null && bytes.firstDifference < bytes.actualLength ? ` (first difference at offset ${bytes.firstDifference})` : ''}, ${exitText(client)}`,
      { bytes },
    );
  }
  return { path, bytes: bytes.actualLength };
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
  const evidence = { server: outcome.server, ...(details ? { details } : {}) };
  // Said at once, with what the server left: its exit and stderr, or where it listens instead.
  if (outcome.ready.reason === 'exited') {
    const ended = `${exitText(outcome.server)}, stderr ${JSON.stringify(firstLine(outcome.server.stderr))}`;
    fail(`server exited before listening at ${JSON.stringify(path)}: ${ended}`, `a socket listening at ${JSON.stringify(path)}`, ended, evidence);
  }
  if (outcome.ready.reason === 'wrong-path' && outcome.ready.place) {
    fail(outcome.ready.detail, `a socket listening at ${JSON.stringify(path)}`, `listening ${describePlace(outcome.ready.place)}`, evidence);
  }
  fail(
    `server never listened at ${JSON.stringify(path)}: ${outcome.ready.detail}`,
    `a socket listening at ${JSON.stringify(path)}`,
    outcome.ready.reason === 'wrong-path' ? `listening at ${JSON.stringify(outcome.ready.boundPath)}` : outcome.ready.detail,
    { server: outcome.server, ...(details ? { details } : {}) },
  );
}
