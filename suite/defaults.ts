/**
 * Every default of a run, once. The CLI's --help, the public API (runSuite), the harness and the
 * properties read them from here, so a default cannot differ between two ways in.
 */
import os from 'node:os';

export const DEFAULTS = {
  /** Generated cases per unit (a property's maxRuns caps it). */
  runs: 100,
  /** Per-case deadline; every wait in a case observes it. */
  caseDeadlineMs: 15_000,
  /** Where reports go, relative to the working directory. */
  outDir: 'reports',
  /** Shrink a failure to a minimal counterexample. */
  shrink: true,
  /** Deadline for one driver's hello (and quit) while the plan asks capabilities. */
  helloDeadlineMs: 15_000,
  /** How long a client may keep running after its server has closed the connection and exited. */
  eofGraceMs: 2000,
  /** How long a server may keep running after its client has finished. */
  serverGraceMs: 2000,
  /** Stdout bytes kept for evidence; beyond this only the hash, length and first difference are kept. */
  stdoutCap: 2 * 1024 * 1024,
} as const;

/** Cases in flight at once: the number of cores. */
export const defaultJobs = (): number => os.availableParallelism();
