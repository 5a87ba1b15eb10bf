/**
 * The process-wide guards of a command that may start processes or make temp dirs (run, replay,
 * report, merge, compare): EPIPE on stdout is no error, the case dirs are swept at exit and at a
 * signal, and tmp-promise removes what it made. `list` and `--help` start nothing and skip them.
 */
import tmp from 'tmp-promise';
import { sweepCaseDirs } from '../harness/casedir.js';
import { installSignalHandlers } from '../harness/process.js';

/** `graceful`: run's hook, which turns the first SIGINT or SIGTERM into a cancel (cli/run.ts). */
export function guardProcess(graceful?: (signal: NodeJS.Signals) => boolean): void {
  tmp.setGracefulCleanup();
  installSignalHandlers(async () => sweepCaseDirs(), graceful);
  process.on('exit', sweepCaseDirs);
}
