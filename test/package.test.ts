/**
 * The package as a user gets it (issue 15, items 3 and 4). A copy of this tree is packed as `npm pack`
 * does it: its prepack script (the C programs, and prebuildify's addon), then the tarball; the
 * TypeScript comes from the tree's dist/, which `npm test`'s pretest has just built with prepare's
 * command (running it again here would double the test's time). The tarball is installed with `--ignore-scripts` into a fresh consumer project whose PATH has no
 * compiler: only symlinks to node, npm, npx and sh; no ss either (iproute2 is missing from slim images:
 * the harness asks the addon's sock_diag about queued connections, suite/harness/peers.ts). There the CLI runs, a vitest test calls conformance() on an in-process
 * adapter, and a TypeScript file type-checks against the packed declarations. Everything lives in one
 * temp dir, made traversable (0755) because some cases run a driver as uid 65534 from the installed
 * package; the consumer's TMPDIR is inside it, so what a run leaves behind is found there.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';

/** What a built clone holds that `npm pack` needs: sources, build files, dist/ and the docs the runtime reads. */
const TREE = ['dist', 'package.json', 'binding.gyp', 'LICENSE', 'README.md', 'scripts', 'suite', 'fixtures', 'native', 'c-reference', 'docs', 'tsconfig.json', 'tsconfig.build.json'];
const C_PROGRAMS = ['original-server', 'original-client', 'reference-server', 'reference-client', 'reference-driver', 'uds-launcher'];
/** Everything the consumer's PATH holds. */
const TOOLS = ['node', 'npm', 'npx', 'sh'];

const lockVersion = (name: string): string => {
  const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version: string }> };
  return lock.packages[`node_modules/${name}`]!.version;
};

/** Which of `tools` sh finds on `path`. */
async function reachable(path: string, tools: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const t of tools) {
    const r = await execa(join(path, 'sh'), ['-c', 'command -v "$1"', 'sh', t], { env: { PATH: path }, extendEnv: false, reject: false });
    if (r.exitCode === 0) found.push(t);
  }
  return found;
}

/** Processes whose cwd lies under dir. */
function processesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd.startsWith(dir)) out.push(`${entry} ${cwd}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

let work: DirectoryResult;
let tarball: string;
let consumer: string;
let tmp: string;
let consumerEnv: { cwd: string; env: Record<string, string | undefined> };

const inConsumer = (file: string, args: string[], timeout: number) => execa(join(work.path, 'path', file), args, { ...consumerEnv, extendEnv: false, reject: false, timeout });

beforeAll(async () => {
  work = await tmpDir({ unsafeCleanup: true, mode: 0o755, prefix: 'uds-package-' });
  const src = join(work.path, 'src');
  for (const part of TREE) {
    // Timestamps kept, so make finds the C programs up to date. Not the mutants' programs, nor the
    // example's vitest cache: neither is the package's.
    cpSync(join(PROJECT_ROOT, part), join(src, part), {
      recursive: true,
      preserveTimestamps: true,
      filter: (from) => !['fixtures/mutants/bin', 'node_modules'].some((skip) => relative(PROJECT_ROOT, from).startsWith(skip) || from.includes('/node_modules')),
    });
  }
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(src, 'node_modules'));
  const prepack = await execa('npm', ['run', '--silent', 'prepack'], { cwd: src, timeout: 120_000, reject: false });
  expect(prepack.exitCode, prepack.stderr).toBe(0);
  const packed = await execa('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work.path], { cwd: src, timeout: 60_000, reject: false });
  expect(packed.exitCode, packed.stderr).toBe(0);
  tarball = join(work.path, packed.stdout.trim().split('\n').pop()!);

  const path = join(work.path, 'path');
  mkdirSync(path);
  for (const tool of TOOLS) {
    const found = await execa('sh', ['-c', 'command -v "$1"', 'sh', tool], { reject: false });
    if (found.exitCode === 0) symlinkSync(found.stdout.trim(), join(path, tool));
  }
  consumer = join(work.path, 'consumer');
  tmp = join(work.path, 'tmp');
  mkdirSync(consumer);
  mkdirSync(tmp);
  chmodSync(tmp, 0o1777); // as /tmp is: the case dirs are made here, and some cases run a driver as uid 65534
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  consumerEnv = { cwd: consumer, env: { PATH: path, HOME: process.env.HOME, TMPDIR: tmp, CI: 'true' } };
  const deps = ['vitest', 'typescript', '@types/node'].map((d) => `${d}@${lockVersion(d)}`);
  const installed = await inConsumer('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', tarball, ...deps], 120_000);
  expect(installed.exitCode, installed.stderr).toBe(0);
}, 240_000);

afterAll(async () => {
  await work?.cleanup();
});

describe('the packed tarball', () => {
  it('holds only what the package needs', async () => {
    const files = (await execa('tar', ['tzf', tarball])).stdout.split('\n').map((f) => f.replace(/^package\//, ''));
    for (const banned of [/^test\//, /^bench\//, /^\.ci\//, /^tsconfig/, /^vitest\.config/, /^fixtures\/mutants\//, /^fixtures\/examples\//, /^dist\/(bench|test|fixtures\/mutants)\//, /\.map$/, /\.test\./, /^build\//, /^c-reference\/bin\/(obj|.*\.a$)/])
      expect(files.filter((f) => banned.test(f)), String(banned)).toEqual([]);
    for (const needed of ['LICENSE', 'README.md', 'package.json', 'binding.gyp', 'scripts/install.mjs', 'dist/suite/cli.js', 'dist/suite/index.d.ts', 'docs/results.schema.json', 'docs/driver-answers.schema.json', 'native/src/addon.cc', 'prebuilds/linux-x64/uds-conformance.glibc.node', 'fixtures/subjects/python-socket/driver.py', ...C_PROGRAMS.map((p) => `c-reference/bin/${p}`)])
      expect(files).toContain(needed);
    expect(readFileSync(join(consumer, 'node_modules', 'uds-conformance', 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) \d{4} uds-conformance contributors\n/);
  });

  it('installs with --ignore-scripts where no compiler is on PATH, and leaves no stray folder', async () => {
    expect(await reachable(join(work.path, 'path'), ['gcc', 'cc', 'g++', 'c++', 'make', 'python3', 'ss'])).toEqual([]);
    expect(await reachable(join(work.path, 'path'), ['node', 'npm', 'npx'])).toEqual(['node', 'npm', 'npx']);
    const root = join(consumer, 'node_modules', 'uds-conformance');
    // No build/ (the addon is the prebuild) and no node-addon-api/ (gyp's makefiles, issue 15).
    expect(readdirSync(root).sort()).toEqual(['LICENSE', 'README.md', 'binding.gyp', 'c-reference', 'dist', 'docs', 'fixtures', 'native', 'package.json', 'prebuilds', 'scripts']);
  });

  it('npx uds-conformance run --runs 3 runs every built-in from the prebuilds, exit 0, reports written, nothing left', async () => {
    // One seed-protocol property over every pairing of the built-ins (the C programs, ts-net, ts-native
    // in-process: the prebuilt addon), one fd-passing property over the drivers (reference-driver,
    // ts-native's), one that runs a driver as uid 65534 from the installed package. The whole matrix
    // takes over a minute; this is the install's proof, not the suite's.
    const r = await inConsumer('npx', ['uds-conformance', 'run', '--runs', '3', '--property', 'delivery.payload', '--property', 'fd.kinds', '--property', 'cred.peercred-unprivileged', '--out', 'reports'], 60_000);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(join(consumer, 'reports')).sort()).toEqual(['index.html', 'junit.xml', 'results.json', 'summary.md']);
    const report = JSON.parse(readFileSync(join(consumer, 'reports', 'results.json'), 'utf8')) as { results: Array<{ property: string; server: string; client: string; status: string }> };
    const ran = (property: string, impl: string, statuses: string[]) => report.results.some((e) => e.property === property && statuses.includes(e.status) && (e.server === impl || e.client === impl));
    const passed = (property: string, impl: string) => ran(property, impl, ['pass']);
    // c-original's known failures (its expectations) count: they ran, and failed as expected.
    for (const impl of ['c-original', 'c-reference', 'ts-net', 'ts-native']) expect(ran('delivery.payload', impl, ['pass', 'expected-fail']), impl).toBe(true);
    expect(passed('fd.kinds', 'ts-native')).toBe(true);
    expect(passed('cred.peercred-unprivileged', 'c-reference')).toBe(true);
    expect(report.results.filter((e) => e.status === 'fail' || e.status === 'error')).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
    expect(processesUnder(work.path)).toEqual([]);
  });

  it("a consumer's vitest test calls conformance() on an in-process adapter and passes", async () => {
    // The node:net adapter of docs/adapters.md, importing its types from the package.
    const adapter = readFileSync(join(PROJECT_ROOT, 'fixtures', 'examples', 'net-adapter.ts'), 'utf8').replace("'../../suite/adapter.js'", "'uds-conformance/adapter'");
    expect(adapter).toContain("from 'uds-conformance/adapter'");
    writeFileSync(join(consumer, 'net-adapter.ts'), adapter);
    writeFileSync(
      join(consumer, 'net.test.ts'),
      [
        "import { describe } from 'vitest';",
        "import { defineSubject } from 'uds-conformance';",
        "import { conformance } from 'uds-conformance/vitest';",
        "import { createNetAdapter } from './net-adapter.js';",
        '',
        "describe('net', () => {",
        "  conformance(defineSubject({ name: 'net', driver: { adapter: createNetAdapter } }), { runs: 3, timeout: 30_000, properties: ['stream.half-close', 'stream.many-clients'] });",
        '});',
        '',
      ].join('\n'),
    );
    const r = await inConsumer('npx', ['vitest', 'run', '--reporter=json', '--outputFile=vitest.json'], 90_000);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    const json = JSON.parse(readFileSync(join(consumer, 'vitest.json'), 'utf8')) as { testResults: Array<{ assertionResults: Array<{ title: string; status: string }> }> };
    const tests = json.testResults.flatMap((f) => f.assertionResults);
    // Each property × pairing: net as server and as client against c-reference, and against itself;
    // none skipped (node:net has half-close and many connections; it cannot peek, so no MSG_PEEK here).
    expect(tests.map((t) => t.title).sort()).toEqual([
      'stream.half-close · c-reference × net',
      'stream.half-close · net × c-reference',
      'stream.half-close · net × net',
      'stream.many-clients · c-reference × net',
      'stream.many-clients · net × c-reference',
      'stream.many-clients · net × net',
    ]);
    expect(tests.filter((t) => t.status !== 'passed')).toEqual([]);
    expect(readdirSync(tmp).filter((n) => n.startsWith('udsc-'))).toEqual([]);
  });

  it('a consumer TypeScript file using the API type-checks against the packed declarations', async () => {
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: ['node'] }, files: ['api.ts'] }),
    );
    writeFileSync(
      join(consumer, 'api.ts'),
      [
        "import { defineSubject, listProperties, runSuite, type DriverAdapter, type ResultEntry, type RunReport } from 'uds-conformance';",
        "import type { DriverAdapter as AdapterInterface } from 'uds-conformance/adapter';",
        '',
        'declare const adapter: AdapterInterface;',
        'const same: DriverAdapter = adapter;',
        "const subject = defineSubject({ name: 'mine', driver: { adapter: () => same } });",
        "const report: RunReport = await runSuite({ subjects: [subject], runs: 3, propertyPatterns: listProperties({ patterns: ['fd.*'] }).map((p) => p.id) });",
        "const failed: ResultEntry[] = report.results.filter((e) => e.status === 'fail');",
        'console.log(failed.length);',
        // The declarations are real types, not any: each of these must be an error.
        '// @ts-expect-error runSuite takes an options object',
        "void runSuite('fd.*');",
        "// @ts-expect-error a status is one of the suite's, not any string",
        "const wrong: ResultEntry['status'] = 'flaky';",
        'void wrong;',
        '',
      ].join('\n'),
    );
    const r = await inConsumer('npx', ['tsc', '-p', 'tsconfig.json'], 60_000);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.exitCode).toBe(0);
  });

  // The install script (scripts/install.mjs), as `npm rebuild` runs it; these three change the
  // installed package (a build from source adds build/), so they come last.
  const root = (): string => join(consumer, 'node_modules', 'uds-conformance');

  it('npm rebuild without a compiler: the prebuilds load and run, so nothing is built', async () => {
    const r = await inConsumer('npm', ['rebuild', 'uds-conformance', '--foreground-scripts'], 60_000);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/building from source|cannot build/);
    expect(existsSync(join(root(), 'build'))).toBe(false);
  });

  it('a build from source without a compiler names every missing tool and how to install it', async () => {
    const r = await execa(join(work.path, 'path', 'npm'), ['rebuild', 'uds-conformance', '--foreground-scripts'], { ...consumerEnv, env: { ...consumerEnv.env, UDS_CONFORMANCE_BUILD_FROM_SOURCE: '1' }, extendEnv: false, reject: false, timeout: 60_000 });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toContain('uds-conformance: cannot build from source: missing make, a C compiler (cc; gcc), a C++ compiler (g++; g++), python3 (for node-gyp).');
    expect(r.stderr).toContain('Debian/Ubuntu: apt-get install build-essential python3');
    expect(existsSync(join(root(), 'build'))).toBe(false);
  });

  it('a build from source with the tools builds every program and the addon, and leaves no stray node-addon-api/', async () => {
    const startedAt = Date.now() - 1000;
    for (const p of C_PROGRAMS) expect(statSync(join(root(), 'c-reference', 'bin', p)).mtimeMs, p).toBeLessThan(startedAt);
    const r = await execa('npm', ['rebuild', 'uds-conformance', '--foreground-scripts'], { cwd: consumer, env: { TMPDIR: tmp, UDS_CONFORMANCE_BUILD_FROM_SOURCE: '1' }, reject: false, timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(existsSync(join(root(), 'build', 'Release', 'uds_native.node'))).toBe(true);
    // gyp's makefiles for node-addon-api's target would land here (binding.gyp says why they do not).
    expect(existsSync(join(root(), 'node-addon-api'))).toBe(false);
    expect(existsSync(join(consumer, 'node_modules', 'node-addon-api', 'node_addon_api.Makefile'))).toBe(false);
    // make -B: npm's fixed mtimes would otherwise make the shipped programs look up to date.
    expect(readdirSync(join(root(), 'c-reference', 'bin'))).toEqual(expect.arrayContaining(['obj', ...C_PROGRAMS]));
    // Every program rebuilt here, none kept from the tarball (npm gives packed files a 1985 mtime).
    for (const p of C_PROGRAMS) expect(statSync(join(root(), 'c-reference', 'bin', p)).mtimeMs, p).toBeGreaterThan(startedAt);
    const run = await inConsumer('npx', ['uds-conformance', 'run', '--runs', '2', '--property', 'fd.kinds', '--server', 'ts-native', '--client', 'ts-native', '--out', 'reports-source'], 60_000);
    expect(run.exitCode, run.stderr).toBe(0);
  });

});

describe('the harness on a machine without ss (a slim image: the consumer of a tarball)', () => {
  it('asking ss, aborted while its spawn fails, signals nobody: no kill(0, SIGTERM) on its own process group', async () => {
    // Node's execFile `signal` would kill a child whose spawn is failing: pid 0, its caller's group.
    // The child runs in a session of its own (detached), so that without the fix only it dies.
    const peers = pathToFileURL(join(PROJECT_ROOT, 'dist', 'suite', 'harness', 'peers.js')).href;
    const script = `import { connectionQueuedBySs } from ${JSON.stringify(peers)};
const ac = new AbortController();
const answer = connectionQueuedBySs(1, ac.signal);
ac.abort();
console.log(String(await answer));`;
    const r = await execa(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: join(PROJECT_ROOT, 'no-such-dir') }, extendEnv: false, detached: true, reject: false, timeout: 20_000 });
    expect(r.signal, r.stderr).toBeUndefined();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('undefined');
  });
});
