/**
 * In-process roles behind the same handle as processes: a TypeScript implementation's server or client
 * function runs in the harness's process with its own abort signal (aborted with the case), its stderr
 * collected, and its exit code turned into the ProcessSummary a process would have had.
 */
import type { InProcessRun, ProcessSummary } from '../model/types.js';

export interface InProcessRole {
  /** Resolves when the role's function has returned (never rejects). */
  exited: Promise<ProcessSummary>;
  /** Aborts the role (idempotent). */
  kill: () => void;
}

/**
 * Starts `run` with the options `make` builds from the role's signal and stderr sink. `stdoutLength`
 * is read when the role ends, for the summary.
 */
export function startInProcess<O>(
  run: InProcessRun<O>,
  make: (io: { signal: AbortSignal; stderr: (text: string) => void }) => O,
  caseSignal: AbortSignal,
  stdoutLength: () => number = () => 0,
): InProcessRole {
  const controller = new AbortController();
  const onCaseAbort = (): void => controller.abort();
  // A case already aborted (its deadline, Ctrl-C) fires no event any more: the role starts aborted.
  if (caseSignal.aborted) controller.abort();
  else caseSignal.addEventListener('abort', onCaseAbort, { once: true });
  const stderr: string[] = [];
  const started = performance.now();
  const exited = Promise.resolve()
    .then(() => run(make({ signal: controller.signal, stderr: (text) => void stderr.push(text) })))
    .catch((err: unknown) => {
      stderr.push(`uncaught: ${String(err)}\n`);
      return 1;
    })
    .then((code): ProcessSummary => {
      caseSignal.removeEventListener('abort', onCaseAbort);
      return {
        how: 'in-process',
        exitCode: code,
        signal: null,
        timedOut: controller.signal.aborted && code !== 0,
        stderr: stderr.join('').slice(0, 16 * 1024),
        stdoutLength: stdoutLength(),
        durationMs: performance.now() - started,
      };
    });
  return { exited, kill: () => controller.abort() };
}
