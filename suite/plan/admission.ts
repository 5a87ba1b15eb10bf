/**
 * Admission: how many cases the runner keeps in flight, decided from what the run's processes do.
 *
 * A unit's cases mostly wait (on a subject's start-up, on a driver's answer, on a peer's bytes), so a
 * fixed count of one unit per core leaves the machine idle behind a slow subject. Every sample period
 * the runner measures the CPU that the harness and everything it started used since the last sample
 * (`CpuMeter`), and `nextLimit` (a pure function of two samples, so it is tested on fake ones) moves
 * the limit:
 *
 * - up, while the run uses less than `targetUtilisation` of the cores and units are waiting to start:
 *   towards the count that would reach the target at the measured CPU per unit, at most doubling per
 *   sample, so a run of waiting cases reaches its ceiling within a few samples;
 * - down, when the run uses more than `highUtilisation` of the cores, or the harness's own event loop
 *   (one thread, whatever the cores) is busier than `harnessShareMax` of one core: to the count that
 *   the target allows, never under the floor. A unit in flight is never stopped; a lower limit only
 *   holds back the next start.
 *
 * Whatever the CPU says, the limit stays within the ceiling (`--jobs`, or cores × ADAPTIVE_JOBS_PER_CORE)
 * and within what memory and file descriptors leave room for: each unit admitted beyond those in flight
 * needs `caseMemoryBytes` of available memory and `caseFds` of the harness's RLIMIT_NOFILE headroom,
 * beyond a reserve of each. The floor is the core count (or the ceiling, if lower), today's fixed
 * count, so a CPU-bound run is not slower than it was; only memory or fds can take the limit under it.
 *
 * Only the CPU the run itself uses is counted, not the machine's: other work on a shared machine does
 * not make the run's cases wait less, and the high mark still holds the run back from adding to an
 * overload of its own making.
 */
import { readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';

export interface AdmissionConfig {
  cores: number;
  /** The limit never goes under this (unless memory or fds say so): min(cores, ceiling). */
  floor: number;
  /** The hard ceiling: `--jobs`, or the adaptive default. */
  ceiling: number;
  /** Grow while the run's CPU is under this share of the cores. */
  targetUtilisation: number;
  /** Shrink when the run's CPU is over this share of the cores. */
  highUtilisation: number;
  /** Shrink when the harness's own process is over this share of one core (its event loop is one thread). */
  harnessShareMax: number;
  caseMemoryBytes: number;
  memoryReserveBytes: number;
  caseFds: number;
  fdReserve: number;
}

/** One measurement of the run (CPU times cumulative since some fixed point). */
export interface AdmissionSample {
  atMs: number;
  /** CPU (user + system) of the harness's own process. */
  harnessCpuMs: number;
  /** CPU of everything the harness started (the launcher's tree, reaped children). */
  childrenCpuMs: number;
  /**
   * The whole machine's busy CPU (/proc/stat: all but idle and iowait) and its CPU count, when
   * known: other work on the machine (another run, a test worker beside this one) holds this run
   * back too, and a case still running counts now, not when it is reaped.
   */
  machine?: { busyMs: number; cpus: number };
  /** Memory available to new processes. */
  availableMemoryBytes: number;
  /** Open fds of the harness and its RLIMIT_NOFILE soft limit. */
  fdsOpen: number;
  fdLimit: number;
}

export interface AdmissionState {
  limit: number;
  inFlight: number;
  /** Units not started yet. */
  waiting: number;
}

export interface AdmissionDecision {
  limit: number;
  /** The run's CPU over the interval, as a share of all cores. */
  utilisation: number;
  /** The harness's own CPU over the interval, as a share of one core. */
  harnessShare: number;
  /** What set the limit. */
  why: 'grow' | 'shrink' | 'hold' | 'memory' | 'fds' | 'ceiling';
}

/** The limit after a sample interval: a pure function of the state, two samples and the config. */
export function nextLimit(state: AdmissionState, previous: AdmissionSample, current: AdmissionSample, config: AdmissionConfig): AdmissionDecision {
  const dt = current.atMs - previous.atMs;
  const harnessMs = Math.max(0, current.harnessCpuMs - previous.harnessCpuMs);
  // A launcher that died and was reaped moves its counts into the harness's reaped children: a drop,
  // read as nothing used rather than as negative CPU.
  const childrenMs = Math.max(0, current.childrenCpuMs - previous.childrenCpuMs);
  const own = dt > 0 ? (harnessMs + childrenMs) / (dt * config.cores) : 0;
  const machine = dt > 0 && previous.machine && current.machine ? Math.max(0, current.machine.busyMs - previous.machine.busyMs) / (dt * current.machine.cpus) : 0;
  // The busier of the two: timing-sensitive checks (a quiet period, a grace) must not meet a machine
  // this run overloaded, whoever else is using it.
  const utilisation = Math.max(own, machine);
  const harnessShare = dt > 0 ? harnessMs / dt : 0;
  let limit = state.limit;
  let why: AdmissionDecision['why'] = 'hold';
  if (dt <= 0) {
    // No interval to judge by: keep the limit.
  } else if (utilisation > config.highUtilisation || harnessShare > config.harnessShareMax) {
    // Scale the cases in flight down to what the target allows at the CPU each one used.
    const byCpu = Math.floor((state.inFlight * config.targetUtilisation) / Math.max(utilisation, Number.EPSILON));
    const byHarness = Math.floor((state.inFlight * config.harnessShareMax) / Math.max(harnessShare, Number.EPSILON));
    limit = Math.max(config.floor, Math.min(state.limit - 1, byCpu, byHarness));
    why = 'shrink';
  } else if (utilisation < config.targetUtilisation && state.waiting > 0 && state.inFlight >= state.limit) {
    // The limit binds and the cores are idle: move towards the target, at most doubling per sample.
    const perUnit = utilisation / Math.max(1, state.inFlight);
    const toTarget = perUnit > 0 ? Math.floor(config.targetUtilisation / perUnit) : Infinity;
    limit = Math.max(state.limit + 1, Math.min(2 * state.limit, toTarget));
    why = 'grow';
  }
  if (limit >= config.ceiling) {
    if (limit > config.ceiling) why = 'ceiling';
    limit = config.ceiling;
  }
  limit = Math.max(limit, config.floor);
  // Room for units beyond those in flight; a unit in flight already has its share.
  const byMemory = state.inFlight + Math.floor((current.availableMemoryBytes - config.memoryReserveBytes) / config.caseMemoryBytes);
  const byFds = state.inFlight + Math.floor((current.fdLimit - current.fdsOpen - config.fdReserve) / config.caseFds);
  if (byMemory < limit) {
    limit = byMemory;
    why = 'memory';
  }
  if (byFds < limit) {
    limit = byFds;
    why = 'fds';
  }
  return { limit: Math.max(1, limit), utilisation, harnessShare, why };
}

/** USER_HZ: what /proc's clock ticks count per second (100 on every Linux ABI). */
const TICKS_PER_SECOND = 100;

/** utime + stime + cutime + cstime of /proc/<pid>/stat, in ms; undefined if it is gone. */
function treeCpuMs(pid: number | 'self', withOwn: boolean): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields 14-17 (utime stime cutime cstime) are at 11-14 after the name and state.
  const ticks = (i: number): number => Number(fields[i]) || 0;
  const own = withOwn ? ticks(11) + ticks(12) : 0;
  return ((own + ticks(13) + ticks(14)) * 1000) / TICKS_PER_SECOND;
}

/** The machine's busy CPU time in ms and its CPU count, from /proc/stat's per-CPU lines; undefined without /proc. */
function machineCpu(): { busyMs: number; cpus: number } | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/stat', 'utf8');
  } catch {
    return undefined;
  }
  let busy = 0;
  let cpus = 0;
  for (const line of text.split('\n')) {
    if (!/^cpu\d/.test(line)) continue;
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    const t = line.split(/\s+/).slice(1, 9).map(Number);
    busy += (t[0] ?? 0) + (t[1] ?? 0) + (t[2] ?? 0) + (t[5] ?? 0) + (t[6] ?? 0) + (t[7] ?? 0);
    cpus++;
  }
  return cpus > 0 ? { busyMs: (busy * 1000) / TICKS_PER_SECOND, cpus } : undefined;
}

function softFdLimit(): number {
  try {
    const line = /^Max open files\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line?.[1] && line[1] !== 'unlimited') return Number(line[1]);
  } catch {
    // no /proc: no bound known
  }
  return Number.MAX_SAFE_INTEGER;
}

/**
 * Measures the run: the harness by process.cpuUsage, its children by /proc: the harness's reaped
 * children (cutime, cstime) and the launcher's own CPU with everything it reaped (it is a child
 * subreaper, so that is every process of every case once it has exited). A process still running
 * counts when it is reaped: cases are short, and a long one is counted late, not missed.
 */
export class CpuMeter {
  private readonly fdLimit = softFdLimit();

  constructor(private readonly launcherPid: () => number | undefined) {}

  sample(): AdmissionSample {
    const own = process.cpuUsage();
    const launcher = this.launcherPid();
    const childrenCpuMs = (treeCpuMs('self', false) ?? 0) + (launcher !== undefined ? (treeCpuMs(launcher, true) ?? 0) : 0);
    let fdsOpen = 0;
    try {
      fdsOpen = readdirSync('/proc/self/fd').length;
    } catch {
      // no /proc: counted as none open, the limit unknown too
    }
    const available = typeof process.availableMemory === 'function' ? Math.min(process.availableMemory(), os.freemem()) : os.freemem();
    const machine = machineCpu();
    return {
      atMs: performance.now(),
      harnessCpuMs: (own.user + own.system) / 1000,
      childrenCpuMs,
      ...(machine ? { machine } : {}),
      availableMemoryBytes: available,
      fdsOpen,
      fdLimit: this.fdLimit,
    };
  }
}
