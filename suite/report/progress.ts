/**
 * Progress of a run on stderr. On a terminal (and CI is not 'true'): a cli-progress bar with done/total
 * cases, elapsed time, ETA and the unexpected results so far. Otherwise: a plain line every few seconds
 * (and one at the end), which reads well in a CI log. Both give times in one format (durationText) and
 * the same ETA (EtaEstimator), not cli-progress's own, which extrapolates the rate of the last updates
 * and jumps as the run moves from quick units (unsupported ones take no time) to slow ones.
 */
import cliProgress from 'cli-progress';
import type { ResultEntry } from '../model/types.js';
import { caseLabel, durationText, isUnexpected } from './common.js';

export interface Progress {
  /** One more case finished (done counts all finished cases). */
  update(result: ResultEntry, done: number): void;
  /** Ends the bar (or prints the last plain line); idempotent. */
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  /**
   * The kind of every planned unit (unitKind), for the ETA: the remaining units are estimated by the
   * mean time of finished units of their kind. Without it, every unit is of one kind.
   */
  kinds?: string[];
  stream?: NodeJS.WriteStream;
  /** Bar or plain lines; default: a bar when the stream is a TTY and CI is not 'true'. */
  interactive?: boolean;
  /** Plain mode: how often a line is printed. */
  intervalMs?: number;
  /** A label for the lines, e.g. "shard 2/3". */
  label?: string;
  /** The clock (ms), for tests; default performance.now. */
  now?: () => number;
}

/** The kind of the units the plan found unsupported: they take no time, and say nothing of the others. */
export const UNSUPPORTED_KIND = 'unsupported';

/** The kind of a unit for the ETA: its property, or UNSUPPORTED_KIND. */
export function unitKind(unit: { property: { id: string }; unsupported?: string }): string {
  return unit.unsupported !== undefined ? UNSUPPORTED_KIND : unit.property.id;
}

/**
 * How long the rest of a run will take. The work left is, for each kind of unit, the units of that kind
 * not yet finished times the mean time of those that finished (a kind none of which has finished takes
 * the mean of all finished units but the unsupported ones); the wall time per unit of work so far
 * (which is how the run's parallelism shows) turns it into time. The ETA shown counts down between
 * results; at a result it moves a fraction (`step`) of the way from the countdown to the new estimate,
 * so one unit slower or quicker than its kind moves it by a little, and a lasting change (a slow kind's
 * first units) moves it most of the way within a few results.
 */
export class EtaEstimator {
  private readonly planned = new Map<string, number>();
  private readonly done = new Map<string, { n: number; ms: number }>();
  private doneMs = 0;
  private doneN = 0;
  private recorded = 0;
  private shown: { eta: number; at: number; recorded: number } | undefined;

  constructor(
    kinds: readonly string[],
    private readonly step = 0.3,
  ) {
    for (const k of kinds) this.planned.set(k, (this.planned.get(k) ?? 0) + 1);
  }

  get kinds(): ReadonlyMap<string, number> {
    return this.planned;
  }

  /** How many units of a kind finished. */
  finished(kind: string): number {
    return this.done.get(kind)?.n ?? 0;
  }

  record(kind: string, durationMs: number): void {
    const d = this.done.get(kind) ?? { n: 0, ms: 0 };
    d.n++;
    d.ms += Math.max(0, durationMs);
    this.done.set(kind, d);
    this.doneN++;
    this.doneMs += Math.max(0, durationMs);
    this.recorded++;
  }

  /** The raw estimate of the time left (ms), from the run's elapsed time; undefined before any work is measured. */
  estimate(elapsedMs: number): number | undefined {
    if (this.doneN === 0) return undefined;
    const idle = this.done.get(UNSUPPORTED_KIND) ?? { n: 0, ms: 0 };
    const mean = this.doneN > idle.n ? (this.doneMs - idle.ms) / (this.doneN - idle.n) : 0;
    let left = 0;
    let unitsLeft = 0;
    for (const [kind, n] of this.planned) {
      const d = this.done.get(kind);
      const remaining = Math.max(0, n - (d?.n ?? 0));
      unitsLeft += remaining;
      left += remaining * (d && d.n > 0 ? d.ms / d.n : mean);
    }
    if (unitsLeft === 0) return 0;
    // Nothing measurable finished yet (only unsupported units): no honest estimate.
    if (this.doneMs <= 0) return undefined;
    return (left * elapsedMs) / this.doneMs;
  }

  /** The ETA to show at `elapsedMs` (ms): the countdown, moved toward the estimate when a result came in. */
  eta(elapsedMs: number): number | undefined {
    const countdown = this.shown ? Math.max(0, this.shown.eta - (elapsedMs - this.shown.at)) : undefined;
    if (this.shown && this.shown.recorded === this.recorded) return countdown;
    const raw = this.estimate(elapsedMs);
    if (raw === undefined) return countdown;
    const eta = raw === 0 || countdown === undefined ? raw : countdown + (raw - countdown) * this.step;
    this.shown = { eta, at: elapsedMs, recorded: this.recorded };
    return eta;
  }
}

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? (stream.isTTY === true && process.env.CI !== 'true');
  const now = options.now ?? (() => performance.now());
  const started = now();
  const estimator = new EtaEstimator(options.kinds ?? Array<string>(options.total).fill('unit'));
  let done = 0;
  let bad = 0;
  let xfail = 0;
  let stopped = false;
  const count = (r: ResultEntry): void => {
    if (isUnexpected(r.status)) bad++;
    if (r.status === 'expected-fail') xfail++;
    // An unsupported result is one of the units the plan found unsupported while any are left (a driver
    // can also declare a unit unsupported when it runs: then it is its property's).
    const planned = (k: string): number => estimator.kinds.get(k) ?? 0;
    const kind = !options.kinds ? 'unit' : r.status === 'unsupported' && estimator.finished(UNSUPPORTED_KIND) < planned(UNSUPPORTED_KIND) ? UNSUPPORTED_KIND : r.property;
    estimator.record(kind, r.durationMs);
  };
  const etaText = (elapsed: number): string => {
    if (done >= options.total) return '0 s';
    const eta = estimator.eta(elapsed);
    return eta === undefined ? '…' : durationText(eta);
  };
  if (interactive) {
    const bar = new cliProgress.SingleBar(
      {
        format: `{bar} {value}/{total} cases | {elapsedText} elapsed | ETA {etaText} | {unexpected} unexpected, {xfail} xfail | {current}`,
        stream,
        hideCursor: true,
        clearOnComplete: true,
        fps: 5,
        barsize: 24,
        linewrap: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let current = '';
    const payload = () => {
      const elapsed = now() - started;
      return { unexpected: bad, xfail, current, elapsedText: durationText(elapsed), etaText: etaText(elapsed) };
    };
    bar.start(options.total, 0, payload());
    // The elapsed time and the ETA's countdown move between results too.
    const tick = setInterval(() => bar.update(payload()), 1000);
    tick.unref();
    return {
      update(result, n) {
        count(result);
        done = n;
        current = `${caseLabel(result)} ${result.server} × ${result.client}`.slice(0, 40);
        bar.update(n, payload());
      },
      stop() {
        if (stopped) return;
        stopped = true;
        clearInterval(tick);
        bar.stop();
      },
    };
  }
  const prefix = options.label ? `[${options.label}] ` : '';
  const line = (): string => {
    const elapsed = now() - started;
    const eta = done > 0 && done < options.total ? `, ETA ${etaText(elapsed)}` : '';
    return `${prefix}[${durationText(elapsed)}] ${done}/${options.total} cases done, ${bad} unexpected, ${xfail} xfail${eta}\n`;
  };
  const timer = setInterval(() => stream.write(line()), options.intervalMs ?? 5000);
  timer.unref();
  return {
    update(result, n) {
      count(result);
      done = n;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write(line());
    },
  };
}
