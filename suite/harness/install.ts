/**
 * The suite's own install, checked before any case runs. A run needs the C programs it ships
 * (c-reference/bin: prebuilt in the linux-x64 package, else built by the install script,
 * scripts/install.mjs), the mutants' programs when a mutant takes part (fixtures/mutants/bin), the
 * compiled TypeScript fixtures (dist/) and, when ts-native takes part, the Node-API addon (the one
 * node-gyp-build finds: build/Release, else the prebuild; native/binding.ts). Where no prebuild fits,
 * `npm install --ignore-scripts` leaves none of them; without this check every case that starts one
 * fails with "spawn ENOENT" and is blamed on the implementation under test. A broken install is the
 * harness's fault: InstallError, which the CLI turns into exit 3.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import type { CommandTemplate, Implementation } from '../model/types.js';
import { LAUNCHER_PATH } from './launcher.js';
import { PROJECT_ROOT } from './paths.js';

export const REBUILD_HINT = 'run `npm rebuild uds-conformance` (in a clone: `npm run build`)';

/** Something the suite ships is missing, not executable or does not load. */
export class InstallError extends Error {
  constructor(
    /** What it is, e.g. "c-reference server program". */
    readonly what: string,
    readonly path: string,
    problem = 'is missing',
  ) {
    super(`the suite's own ${what} ${problem} (${path}): ${REBUILD_HINT}`);
  }
}

/** Built-ins whose code (in-process, or as a process) loads the addon. */
const NEEDS_ADDON = new Set(['ts-native']);

export interface InstallCheckOptions {
  /** Loads the addon and throws when it cannot (native/binding.ts `binding`). */
  loadAddon: () => unknown;
  /** Where the addon is expected, for the message. */
  addonPath: string;
  /** The package root: only files under it are the suite's own (default PROJECT_ROOT). */
  root?: string;
}

/** True when `path` lies inside `root`. */
function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

function templates(impl: Implementation): Array<[role: string, template: CommandTemplate]> {
  const out: Array<[string, CommandTemplate]> = [];
  if (impl.server?.command) out.push(['server', impl.server.command]);
  if (impl.server?.commandWithoutPayload) out.push(['server', impl.server.commandWithoutPayload]);
  if (impl.client?.command) out.push(['client', impl.client.command]);
  if (impl.driver?.command) out.push(['driver', impl.driver.command]);
  return out;
}

function problemWith(path: string, mode: number): string | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return 'is missing';
  }
  if (!st.isFile()) return 'is not a file';
  try {
    accessSync(path, mode);
  } catch {
    return mode & constants.X_OK ? 'is not executable' : 'is not readable';
  }
  return undefined;
}

/**
 * Throws InstallError for the first of the suite's own files that the given implementations need and
 * that is missing or unusable. Only built-ins and mutants are checked, and only the files of theirs
 * under the package root: a subject's command is the subject's business (its failures are its own).
 * A command's program must be executable; a file it names (a script under dist/) must be readable.
 */
export function checkInstall(implementations: readonly Implementation[], options: InstallCheckOptions): void {
  const root = options.root ?? PROJECT_ROOT;
  for (const impl of implementations) {
    if (impl.kind !== 'builtin' && impl.kind !== 'mutant') continue;
    for (const [role, template] of templates(impl)) {
      template.command.forEach((arg, i) => {
        if (!isAbsolute(arg) || !inside(root, arg)) return;
        const what = i === 0 ? `${impl.name} ${role} program` : `${impl.name} ${role} script`;
        const problem = problemWith(arg, i === 0 ? constants.X_OK : constants.R_OK);
        if (problem) throw new InstallError(what, arg, problem);
      });
    }
  }
  // The launcher is optional (process.ts falls back to child_process without it), but one that is
  // there and cannot run would fail every process start.
  if (process.env.UDSC_NO_LAUNCHER !== '1') {
    const problem = problemWith(LAUNCHER_PATH, constants.X_OK);
    if (problem && problem !== 'is missing') throw new InstallError('process launcher', LAUNCHER_PATH, problem);
  }
  if (implementations.some((i) => i.kind === 'builtin' && NEEDS_ADDON.has(i.name))) {
    try {
      options.loadAddon();
    } catch (err) {
      const missing = problemWith(options.addonPath, constants.R_OK) === 'is missing';
      throw new InstallError('Node-API addon', options.addonPath, missing ? 'is missing' : `does not load: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}
