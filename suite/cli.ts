#!/usr/bin/env node
/**
 * uds-conformance command line: the entry, kept small so that --help and --version answer with
 * nothing but node: built-ins loaded (issue 17, item 4: start-up within 1.5x of `node -e 0`).
 *   run     every property over every pairing; the report on stdout (fitted to the terminal), reports
 *           in --out; --dry-run prints the plan instead, starting nothing
 *   replay  one case (property, server, client, seed, path) with its evidence
 *   list, report, merge, compare, --version, --help: see HELP
 * Each command lives in suite/cli/ and is imported when it is the one asked for: `list` reads the
 * property catalog the build wrote (properties/write-catalog.ts), not the property modules; `report`
 * loads the reporters, not the runner.
 * Exit codes: 0 nothing unexpected (SHOULD and MAY failures count only with --strict); 1 something
 * unexpected; 2 bad usage; 3 nothing ran / harness failure; 130/143 run cancelled by SIGINT/SIGTERM
 * (the reports of what finished are written, marked partial).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXIT, HELP, UsageError } from './cli/usage.js';

export { EXIT, HELP, OPTIONS, UsageError } from './cli/usage.js';

/**
 * The package's version, from the package.json found as harness/paths.ts finds the root (up from this
 * file, skipping dist/). Not report/results.ts's readToolVersion, which would load the plan, nor
 * import.meta.resolve of the package's own name, which costs 2-4 ms of the few --version may take.
 */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    if (dirname(dir) === dir) throw new Error('uds-conformance: cannot find the package root');
    dir = dirname(dir);
  }
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The commands, each a module of its own, imported only when asked for. */
const COMMANDS: Record<string, () => Promise<(args: string[]) => Promise<number> | number>> = {
  run: async () => (await import('./cli/run.js')).runCommand,
  replay: async () => (await import('./cli/run.js')).replayCommand,
  list: async () => (await import('./cli/list.js')).listCommand,
  report: async () => (await import('./cli/reports.js')).reportCommand,
  merge: async () => (await import('./cli/reports.js')).mergeCommand,
  compare: async () => (await import('./cli/reports.js')).compareCommand,
};

/**
 * Whether err is bad input (exit 2): a usage error, or a manifest, results file, shape or --out
 * that is wrong. The error classes' modules are imported here, on the error path only; a module
 * that was never loaded cannot have thrown its error, and importing it then costs nothing a user waits for.
 */
async function isBadInput(err: unknown): Promise<boolean> {
  if (err instanceof UsageError) return true;
  // Each import on its own: one that fails (a broken install) must not hide err, which is then reported as is.
  const classes = await Promise.all([
    import('./subjects/manifest.js').then((m) => m.ManifestError, () => undefined),
    import('./report/merge.js').then((m) => m.ReportInputError, () => undefined),
    import('./model/shape.js').then((m) => m.ShapeError, () => undefined),
    import('./report/atomic.js').then((m) => m.OutDirError, () => undefined),
  ]);
  return classes.some((c) => c !== undefined && err instanceof c);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  // -V as commander and Python have it (-v is often --verbose); the bare version, for scripts.
  if (command === '--version' || command === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT.ok;
  }
  // A reader that goes away (`| head`) is no error of the run: what is left to print is dropped.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  try {
    const load = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!load) throw new UsageError(`unknown command ${JSON.stringify(command)} (try --help)`);
    return await (await load())(rest);
  } catch (err) {
    if (await isBadInput(err)) {
      process.stderr.write(`uds-conformance: ${(err as Error).message}\n`);
      return EXIT.usage;
    }
    // The suite's own files are missing (npm install --ignore-scripts, a deleted binary): the harness's fault.
    const InstallError = await import('./harness/install.js').then((m) => m.InstallError, () => undefined);
    if (InstallError && err instanceof InstallError) {
      process.stderr.write(`uds-conformance: ${(err as Error).message}\n`);
      return EXIT.harness;
    }
    process.stderr.write(`uds-conformance: harness failure: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.harness;
  }
}

/** True when this module is the program (also through npm's bin symlink), not when imported by tests. */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isMain()) {
  process.exitCode = await main(process.argv.slice(2));
}
