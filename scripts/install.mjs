#!/usr/bin/env node
/**
 * npm's install script for uds-conformance.
 *
 * Installed as a dependency (the package root is under node_modules/): when the prebuilt addon
 * (prebuilds/, through node-gyp-build) loads and the prebuilt C programs (c-reference/bin) run on
 * this machine, there is nothing to do; no compiler is needed. Otherwise, and always in a checkout
 * (a clone has no prebuilds, and its sources may be newer than any build), build from source: the
 * C programs with make, the addon with node-gyp. When that cannot work, say which tool is missing
 * and how to install it, instead of make's or gyp's first error.
 *
 * `npm install --ignore-scripts` skips this script; on linux-x64 (glibc) the prebuilds are then used
 * as they are. `npm rebuild uds-conformance` runs it again; with UDS_CONFORMANCE_BUILD_FROM_SOURCE=1 it
 * builds from source even where the prebuilds work.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const BIN = join(ROOT, 'c-reference', 'bin');
/** The C programs a run needs (suite/registry.ts, suite/harness/launcher.ts). */
export const C_PROGRAMS = ['original-server', 'original-client', 'reference-server', 'reference-client', 'reference-driver', 'uds-launcher'];
const require = createRequire(import.meta.url);

const say = (line) => process.stderr.write(`uds-conformance: ${line}\n`);

/** Why the shipped prebuilds cannot be used here, or null when they can. */
export function prebuildProblem() {
  let addon;
  try {
    addon = require('node-gyp-build').resolve(ROOT);
  } catch (err) {
    return `no prebuilt addon for this platform (${err.message.split('\n')[0]})`;
  }
  try {
    require(addon);
  } catch (err) {
    return `the prebuilt addon ${addon} does not load: ${err.message.split('\n')[0]}`;
  }
  for (const program of C_PROGRAMS) {
    try {
      accessSync(join(BIN, program), constants.X_OK);
    } catch {
      return `the prebuilt program c-reference/bin/${program} is missing or not executable`;
    }
  }
  // The two programs that do nothing and exit 0 on an empty stdin; the other four are built by the
  // same compiler against the same libc, so if these two run, so do they (and those would wait on a
  // socket, so they cannot be tried without arguments).
  for (const program of ['reference-driver', 'uds-launcher']) {
    const r = spawnSync(join(BIN, program), [], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 10_000 });
    if (r.error || r.status !== 0) {
      const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}: ${r.stderr.toString().trim().split('\n')[0]}`;
      return `the prebuilt program c-reference/bin/${program} does not run here (${why})`;
    }
  }
  return null;
}

const onPath = (tool) => spawnSync('sh', ['-c', `command -v "$1"`, 'sh', tool], { stdio: 'ignore' }).status === 0;

/** The tools a build from source needs that this machine lacks, each with what it is for. */
export function missingTools(env = process.env) {
  const missing = [];
  const cc = env.CC || 'cc';
  const cxx = env.CXX || 'g++';
  if (!onPath('make')) missing.push('make');
  if (!onPath(cc)) missing.push(`a C compiler (${cc}; gcc)`);
  if (!onPath(cxx)) missing.push(`a C++ compiler (${cxx}; g++)`);
  else {
    // native/src uses C++17 (std::optional, structured bindings).
    const probe = spawnSync(cxx, ['-std=c++17', '-x', 'c++', '-fsyntax-only', '-'], {
      input: '#include <optional>\n#include <utility>\nint main() { auto [a, b] = std::pair<int, int>(1, 2); std::optional<int> o(a + b); return *o - 3; }\n',
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    if (probe.status !== 0) missing.push(`a C++ compiler with C++17 (${cxx} -std=c++17 fails; g++ 7 or later)`);
  }
  if (!onPath(env.PYTHON || 'python3')) missing.push('python3 (for node-gyp)');
  return missing;
}

/** node-gyp: npm's own (npm sets npm_config_node_gyp for scripts), else a local one, else PATH's. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js', { paths: [ROOT] })];
  } catch {
    return ['node-gyp'];
  }
}

function run(argv, what) {
  const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, stdio: 'inherit' });
  if (r.error || r.status !== 0) {
    say(`building ${what} failed (${argv.join(' ')}: ${r.error ? r.error.message : `exit ${r.status ?? r.signal}`})`);
    process.exit(1);
  }
}

function buildFromSource({ force }) {
  const missing = missingTools();
  if (missing.length > 0) {
    say(`cannot build from source: missing ${missing.join(', ')}.`);
    say('install them, then run `npm rebuild uds-conformance`:');
    say('  Debian/Ubuntu: apt-get install build-essential python3');
    say('  Fedora/RHEL:   dnf install gcc gcc-c++ make python3');
    say('  Alpine:        apk add build-base python3');
    say('  Arch:          pacman -S base-devel python');
    process.exit(1);
  }
  // -B: an installed package's files all carry npm's fixed mtime, so make would take the shipped
  // programs for up to date; they are the ones that did not run here.
  const make = (dir) => ['make', '-s', ...(force ? ['-B'] : []), '-C', dir];
  run(make('c-reference'), 'the C programs');
  run(make('c-reference/driver'), 'the c-reference driver');
  run(make('c-reference/launcher'), 'the process launcher');
  run([...nodeGyp(), 'rebuild'], 'the Node-API addon');
}

function main() {
  const asDependency = ROOT.split(sep).includes('node_modules');
  // Skip the prebuilds even where they would work: UDS_CONFORMANCE_BUILD_FROM_SOURCE=1, or npm's
  // --build-from-source as prebuild-install and node-pre-gyp take it (npm 11 still passes it on, as
  // npm_config_build_from_source, with a warning that a later npm will not).
  const fromSource = [process.env.UDS_CONFORMANCE_BUILD_FROM_SOURCE, process.env.npm_config_build_from_source].some((v) => v === '1' || v === 'true');
  if (asDependency && !fromSource) {
    const problem = prebuildProblem();
    if (problem === null) return;
    say(`${problem}; building from source`);
  }
  buildFromSource({ force: asDependency });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
