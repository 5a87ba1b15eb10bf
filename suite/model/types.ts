/**
 * The suite's vocabulary: implementations and their roles, properties, verdicts and results.
 * Everything a property, the runner and the reporters share is declared here so that no module
 * needs to know another's internals.
 */
import { ADDRESS_KINDS, SOCKET_TYPES, type AddressKind, type Capabilities, type DriverAdapter, type SocketType } from '../driver/protocol.js';

export { ADDRESS_KINDS, SOCKET_TYPES, type AddressKind, type Capabilities, type SocketType };

export type Role = 'server' | 'client';
export type Level = 'MUST' | 'SHOULD' | 'MAY';
export type Status = 'pass' | 'fail' | 'expected-fail' | 'unexpected-pass' | 'unsupported' | 'error';
export const STATUSES: readonly Status[] = ['pass', 'fail', 'expected-fail', 'unexpected-pass', 'unsupported', 'error'];

/** The name used for the absent side of a single-role property in results and matrices. */
export const NO_PEER = '-';

/** Which side of a failing pairing is at fault (plan/blame.ts). */
export type Blame = 'server' | 'client' | 'pairing' | 'unknown';

/** Of `of` re-runs of a counterexample, `failed` failed. */
export interface RerunCount {
  failed: number;
  of: number;
}

/**
 * How a role is started as a process. Placeholders: {path} (socket path), {payload} (file holding the
 * bytes a server must send) and {dir} (the case's private temp dir). Relative executables are resolved
 * by the registry before a command reaches the harness.
 */
export interface CommandTemplate {
  command: string[];
  env?: Record<string, string>;
  /** Working directory; default the case's temp dir. With a cwd of its own, {path} is absolute. */
  cwd?: string;
  /** A file fed on stdin (placeholders expanded), e.g. "{payload}" for a server that sends its stdin. */
  stdin?: string;
}

/** An in-process server: resolves when it has served one client (or failed). */
export interface InProcessServerOptions {
  path: string;
  /** Bytes to send; undefined means the fixed "Server Message\n". */
  payload?: Uint8Array;
  signal: AbortSignal;
  /** Called once the socket is listening (after listen(2) returned). */
  onListening: () => void;
  /**
   * Called once a client's connection has been accepted (after accept(2) returned): the harness's
   * proof, for a server in its own process, that the session had a client (properties/session.ts).
   */
  onAccepted?: () => void;
  stderr: (text: string) => void;
}
export interface InProcessClientOptions {
  path: string;
  signal: AbortSignal;
  stdout: (chunk: Uint8Array) => void;
  stderr: (text: string) => void;
}
/** What an in-process role returns: the exit code it would have had as a process. */
export type InProcessRun<O> = (options: O) => Promise<number>;

export interface RoleSpec<O> {
  /** Start as a process. */
  command?: CommandTemplate;
  /** Start in-process: the fast path, used when a property does not need a separate process. */
  inProcess?: InProcessRun<O>;
}
export interface ServerSpec extends RoleSpec<InProcessServerOptions> {
  /** Whether the server sends a payload given to it; if false it always sends the fixed message. */
  payload: boolean;
  /**
   * How the process starts when a property gives it no payload (it must then send "Server Message\n"),
   * for a `command` that takes {payload}. Nothing is ever dropped from `command` to make one.
   */
  commandWithoutPayload?: CommandTemplate;
  /** The process cannot start without a payload: the properties that start it without one are unsupported. */
  payloadRequired?: true;
}
export type ClientSpec = RoleSpec<InProcessClientOptions>;

/** A property the implementation is known to fail, and why. */
export interface Expectation {
  status: 'fail';
  reason: string;
  link?: string;
  /** The role whose behaviour fails it; absent means whichever role(s) this implementation plays. */
  role?: Role;
  /**
   * Reached only by some generated inputs or by a race (a call sequence must hit one interleaving):
   * a run that does not reach it passes, and the expectation is never stale.
   */
  intermittent?: boolean;
}

export interface Implementation {
  name: string;
  kind: 'builtin' | 'mutant' | 'command' | 'driver';
  description: string;
  server?: ServerSpec;
  client?: ClientSpec;
  /** Its driver (docs/driver-protocol.md), for properties a plain command cannot show. */
  driver?: DriverSpec;
  expectations: Record<string, Expectation>;
}

/**
 * A driver, by either transport: a process speaking JSON lines, and/or an in-process adapter. With both,
 * the plan picks in-process where the property allows it (the fast path), as for seed-protocol roles.
 */
export interface DriverSpec {
  command?: CommandTemplate;
  /** A fresh adapter per case. */
  inProcess?: () => DriverAdapter;
  /** The roles it may play (default both): a mutant's driver plays only the role it breaks. */
  roles?: Role[];
}

/** The pairing a case runs on. For client-scoped properties the server is absent, and vice versa. */
export interface Pairing {
  server?: Implementation;
  client?: Implementation;
  /** The oracle peer (c-reference) that plays the absent side of a single-role property. */
  oracle?: Implementation;
}

export type PropertyScope = 'pairing' | 'server' | 'client';

/** What a failed check reports: h2spec's expected-against-actual, plus anything else that helps. */
export interface Evidence {
  message: string;
  expected?: string;
  actual?: string;
  /** Byte comparison of stdout against the expected payload, when one was made. */
  bytes?: ByteComparison;
  server?: ProcessSummary;
  client?: ProcessSummary;
  details?: Record<string, unknown>;
}

export interface ByteComparison {
  expectedLength: number;
  actualLength: number;
  expectedSha256: string;
  actualSha256: string;
  /** First offset where the two differ, or null when equal. */
  firstDifference: number | null;
  expectedContext?: string;
  actualContext?: string;
}

export interface ProcessSummary {
  how: 'process' | 'in-process';
  /** The process could not be started at all (exitCode is then 127 by convention). */
  spawnFailed?: boolean;
  command?: string[];
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  stderr: string;
  stdoutLength: number;
  durationMs: number;
}

/** Thrown by a check when the requirement does not hold; the runner turns it into a failure. */
export class CheckFailure extends Error {
  constructor(readonly evidence: Evidence) {
    super(evidence.message);
    this.name = 'CheckFailure';
  }
}

/** Thrown when the case cannot be run on this pairing (a missing feature, not a bug). */
export class Unsupported extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Unsupported';
  }
}

/** What reports and the plan know of a property: everything but its arbitrary and check. */
export interface PropertyInfo {
  id: string;
  level: Level;
  category: string;
  scope: PropertyScope;
  /** One line, quoted in every report. */
  requirement: string;
  /** Where the requirement comes from: unix(7), cmsg(3), the gVisor or kernel selftest that asserts it. */
  reference: string;
  /** Socket types it applies to (default stream). */
  socketTypes?: SocketType[];
  /** Address kinds it applies to (default pathname). */
  addresses?: AddressKind[];
}

export interface Counterexample {
  input: unknown;
  seed: number;
  path: string;
  numShrinks: number;
}

export interface ResultEntry {
  server: string;
  client: string;
  property: string;
  socketType: SocketType;
  address: AddressKind;
  status: Status;
  runs: number;
  durationMs: number;
  message?: string;
  counterexample?: Counterexample;
  evidence?: Evidence;
  replay?: string;
  /** Why the case counts as expected-fail, or why it is unsupported. */
  reason?: string;
  /** For a failing cell with a subject in it: which side is at fault (see suite/plan/blame.ts). */
  blame?: Blame;
  /** The property's level, copied into every result so that reports and the exit status grade failures by it. */
  level?: Level;
  /**
   * Blame's re-runs of the counterexample (plan/blame.ts), per role with the oracle on the other side,
   * and for `pairing` the pairing itself: how many of them failed.
   */
  blameRuns?: Partial<Record<Role | 'pairing', RerunCount>>;
  /** The failure is intermittent: the re-runs that judged it failed only sometimes ("flaky: failed 2 of 5 re-runs"). */
  flaky?: RerunCount;
  /** What the last passing run observed, for properties that report it (e.g. the uid a client ran as). */
  observed?: Record<string, unknown>;
}

/**
 * A sequence property's evidence (`evidence.details.sequence`, docs/results.md "Sequence evidence"):
 * written by suite/sequence/run.ts, read (and shape-checked) by suite/report/sequence.ts.
 */
export interface SequenceEvidence {
  /** The (shrunk) sequence, one human line per command, e.g. "c1.send 12 bytes [MSG_NOSIGNAL]". */
  commands: string[];
  /** The pairing under test: steps[i] is the outcome of commands[i] ("not run" after a failure). */
  subject: { label: string; steps: string[] };
  /** The kernel through c-reference × c-reference, or the model. */
  oracle: { label: string; steps: string[] };
  /** Index into commands of the first step whose outcomes differ under the equivalence, or null. */
  firstDifference: number | null;
  /** One sentence: how steps were compared. */
  equivalence: string;
}
