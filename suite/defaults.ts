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
  /**
   * A client that has received every byte its server was given, then nothing more for this long,
   * ends the case: "the server sent everything but did not close the connection".
   */
  quietMs: 2000,
  /** Time budget of one unit (property × pairing × socket type × address): shrinking stops there. */
  unitBudgetMs: 60_000,
  /** Re-runs of a counterexample per role when blaming a failing cell with a subject in it. */
  blameReruns: 5,
} as const;

/** `run --budget` (plan/budget.ts says how a budget is shared out). */
export const BUDGET = {
  /** Generated runs every unit gets before the budget is shared out. */
  minimumRuns: 10,
  /** The most runs of a unit when --runs is not given: ten times a run's default. */
  maxRuns: 1000,
  /** Kept back from the second pass for blame, the reports and the cases still in flight at its end. */
  reserveShare: 0.1,
  reserveMinMs: 1000,
} as const;

/** Documented ranges of the numeric options (the CLI exits 2 outside them). */
export const RANGES = {
  runs: { min: 1, max: 100_000 },
  jobs: { min: 1, max: 256 },
  /** Node's timers hold at most 2^31 - 1 ms; a day is more than any case needs. */
  caseDeadlineMs: { min: 100, max: 86_400_000 },
  unitBudgetMs: { min: 1000, max: 86_400_000 },
  quietMs: { min: 100, max: 600_000 },
  seed: { min: -2_147_483_648, max: 2_147_483_647 },
} as const;

/** Cases in flight at once: the number of cores. */
export const defaultJobs = (): number => os.availableParallelism();

/**
 * The adaptive runner (plan/admission.ts): without --jobs, units in flight may rise above the cores
 * while their cases wait, up to this many per core.
 */
export const ADAPTIVE_JOBS_PER_CORE = 8;

/** The ceiling of units in flight without --jobs: the cores × ADAPTIVE_JOBS_PER_CORE, within RANGES.jobs. */
export const defaultJobCeiling = (): number => Math.min(RANGES.jobs.max, os.availableParallelism() * ADAPTIVE_JOBS_PER_CORE);

/** How the adaptive runner admits units (plan/admission.ts says what each one does). */
export const ADMISSION = {
  /** How often the run's CPU, memory and fds are sampled. */
  sampleMs: 100,
  targetUtilisation: 0.8,
  highUtilisation: 0.95,
  harnessShareMax: 0.85,
  /** A unit's processes: two Node subjects as processes are about 50 MB each, with room for drivers. */
  caseMemoryBytes: 128 * 1024 * 1024,
  memoryReserveBytes: 512 * 1024 * 1024,
  /** The harness's fds for one case (pipes, the case dir's watch, driver channels, in-process sockets). */
  caseFds: 32,
  fdReserve: 64,
} as const;
