/**
 * Progress of a run on stderr. On a terminal (and CI is not 'true'): a cli-progress bar with done/total
 * cases, elapsed time, ETA and the unexpected results so far. Otherwise: a plain line every few seconds
 * (and one at the end), which reads well in a CI log.
 */
import cliProgress from 'cli-progress';
import type { ResultEntry } from '../model/types.js';
import { caseLabel, isUnexpected } from './common.js';

export interface Progress {
  /** One more case finished (done counts all finished cases). */
  update(result: ResultEntry, done: number): void;
  /** Ends the bar (or prints the last plain line); idempotent. */
  stop(): void;
}

export interface ProgressOptions {
  total: number;
  stream?: NodeJS.WriteStream;
  /** Bar or plain lines; default: a bar when the stream is a TTY and CI is not 'true'. */
  interactive?: boolean;
  /** Plain mode: how often a line is printed. */
  intervalMs?: number;
  /** A label for the lines, e.g. "shard 2/3". */
  label?: string;
}

function formatSeconds(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const interactive = options.interactive ?? (stream.isTTY === true && process.env.CI !== 'true');
  const started = performance.now();
  let done = 0;
  let bad = 0;
  let xfail = 0;
  let stopped = false;
  const count = (r: ResultEntry): void => {
    if (isUnexpected(r.status)) bad++;
    if (r.status === 'expected-fail') xfail++;
  };
  if (interactive) {
    const bar = new cliProgress.SingleBar(
      {
        format: `{bar} {value}/{total} cases | {duration_formatted} elapsed | ETA {eta_formatted} | {unexpected} unexpected, {xfail} xfail | {current}`,
        stream,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
        barsize: 24,
        linewrap: false,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(options.total, 0, { unexpected: 0, xfail: 0, current: '' });
    return {
      update(result, n) {
        count(result);
        done = n;
        bar.update(n, { unexpected: bad, xfail, current: `${caseLabel(result)} ${result.server} × ${result.client}`.slice(0, 40) });
      },
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }
  const prefix = options.label ? `[${options.label}] ` : '';
  const line = (): string => {
    const elapsed = performance.now() - started;
    const eta = done > 0 && done < options.total ? `, ETA ${formatSeconds((elapsed / done) * (options.total - done))}` : '';
    return `${prefix}[${formatSeconds(elapsed)}] ${done}/${options.total} cases done, ${bad} unexpected, ${xfail} xfail${eta}\n`;
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
