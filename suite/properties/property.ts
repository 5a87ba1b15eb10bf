/**
 * A property is data, as in h2spec: what it requires, where that comes from, the inputs it generates,
 * and a check that states the requirement through the shared verifiers (verify.ts). It never names an
 * implementation, a transport or a socket type's special case: the plan instantiates it over every
 * pairing, socket type and address kind it applies to, and gives its check a CaseContext.
 */
import type fc from 'fast-check';
import type { CaseContext } from '../harness/context.js';
import type { SocketFeature, SocketType } from '../driver/protocol.js';
import type { PropertyInfo } from '../model/types.js';

/** Driver capabilities (hello's answer) both sides of a unit must have. */
export interface DriverNeeds {
  fds?: boolean;
  credentials?: boolean;
  commands?: string[];
  /** uds-driver/2 socket features (SOCKET_FEATURES) both sides need at the unit's socket type × address kind. */
  features?: SocketFeature[];
  /**
   * Socket types both sides need besides the unit's, at the unit's address kind (type.mismatch: a
   * stream socket as well as the unit's seqpacket).
   */
  types?: SocketType[];
}

export interface Property<T = unknown> extends PropertyInfo {
  /** How the roles are played: the seed protocol's command lines (default), or drivers. */
  via?: 'seed' | 'driver';
  /** Seed protocol: the server must send a generated payload (not only the fixed message). */
  needsPayload?: boolean;
  /**
   * Seed protocol: the check starts the server without a payload (it must send "Server Message\n"), so
   * a server that declares `payloadRequired` is unsupported for it (plan.ts).
   */
  startsWithoutPayload?: boolean;
  /** Driver properties: the capabilities both drivers must answer. */
  needs?: DriverNeeds;
  /**
   * Each driver runs in a process of its own: the check inspects the receiver's fd table (leaks are
   * found by identity, and an in-process sender holds the same objects) or drops privileges.
   */
  isolation?: 'process';
  arbitrary: fc.Arbitrary<T>;
  /**
   * A fresh arbitrary for one unit, when the arbitrary keeps state (fc.commands keeps its shrink state
   * in itself, so units running at once must not share one); `replayPath` is fc.commands' replay
   * string from a recorded counterexample (runner.ts: the part of `--path` after `~`).
   */
  arbitraryFor?: (replay: { replayPath?: string }) => fc.Arbitrary<T>;
  /** Inputs always tried first (the corpora's edge cases). */
  examples?: T[];
  /** Upper bound on generated runs, for properties whose case is expensive. */
  maxRuns?: number;
  /** A short JSON-able view of an input for reports (large payloads summarised). */
  describe?: (input: T) => unknown;
  /**
   * Resolves when the requirement holds (optionally with what it observed, kept in the result as
   * evidence of a pass); throws CheckFailure when it does not.
   */
  check: (input: T, ctx: CaseContext) => Promise<void | Record<string, unknown>>;
}
