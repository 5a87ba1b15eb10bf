/**
 * A broken install is the harness's fault (issue 10, item 9): the suite's own programs, scripts and
 * addon are checked before any case runs, and the CLI exits 3 with the command that fixes it. The
 * end-to-end cases run a temporary copy of the package (dist/, docs/, c-reference/bin, the addon, a
 * link to node_modules) with one piece removed, as `npm install --ignore-scripts` or a deleted binary
 * leaves it; the real tree is never touched. The last case builds a copy from a clean tree and checks
 * that the bin is executable.
 */
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { checkInstall, InstallError } from '../suite/harness/install.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import type { Implementation } from '../suite/model/types.js';
import { checkSuiteInstall } from '../suite/run.js';
import { mutants } from '../fixtures/mutants/index.js';
import { leftoversOf } from './support/leftovers.js';

const impl = (name: string, kind: Implementation['kind'], command: string[]): Implementation => ({
  name,
  kind,
  description: name,
  server: { command: { command }, payload: true },
  expectations: {},
});

const noAddon = { loadAddon: () => undefined, addonPath: '/nowhere/uds_native.node' };

describe('checkInstall', () => {
  it('passes on this tree: every built-in, the oracle and every mutant', () => {
    expect(() => checkSuiteInstall({})).not.toThrow();
    expect(() => checkSuiteInstall({ implementations: mutants().map((m) => m.implementation) })).not.toThrow();
  });

  it('names a missing or non-executable program of a built-in or mutant, with the fix', async () => {
    const root = await tmpDir({ unsafeCleanup: true });
    try {
      const bin = join(root.path, 'bin');
      mkdirSync(bin);
      const program = join(bin, 'server');
      const builtin = impl('b', 'builtin', [program, '{path}']);
      expect(() => checkInstall([builtin], { ...noAddon, root: root.path })).toThrow(
        new InstallError('b server program', program, 'is missing'),
      );
      expect(() => checkInstall([builtin], { ...noAddon, root: root.path })).toThrow(
        `the suite's own b server program is missing (${program}): run \`npm rebuild uds-conformance\` (in a clone: \`npm run build\`)`,
      );
      writeFileSync(program, '#!/bin/sh\n');
      chmodSync(program, 0o644);
      // root ignores permission bits for reading, not for executing a file with no x bit at all
      expect(() => checkInstall([builtin], { ...noAddon, root: root.path })).toThrow(/b server program is not executable/);
      chmodSync(program, 0o755);
      expect(() => checkInstall([builtin], { ...noAddon, root: root.path })).not.toThrow();
      const script = join(root.path, 'dist', 'cli.js');
      expect(() => checkInstall([impl('n', 'mutant', ['/usr/bin/node', script])], { ...noAddon, root: root.path })).toThrow(
        new InstallError('n server script', script, 'is missing'),
      );
    } finally {
      await root.cleanup();
    }
  });

  it("leaves a subject's command alone: its failures are its own", () => {
    expect(() => checkInstall([impl('s', 'command', [join(PROJECT_ROOT, 'no-such-program')])], noAddon)).not.toThrow();
  });

  it('loads the addon only when ts-native takes part, and names it when it does not load', () => {
    const failing = { addonPath: join(PROJECT_ROOT, 'package.json'), loadAddon: () => { throw new Error('invalid ELF header\nstack'); } };
    expect(() => checkInstall([impl('c', 'builtin', ['/bin/true'])], failing)).not.toThrow();
    expect(() => checkInstall([impl('ts-native', 'builtin', ['/bin/true'])], failing)).toThrow(
      `the suite's own Node-API addon does not load: invalid ELF header (${failing.addonPath})`,
    );
    expect(() => checkInstall([impl('ts-native', 'builtin', ['/bin/true'])], { ...failing, addonPath: '/nowhere/uds_native.node' })).toThrow(
      "the suite's own Node-API addon is missing (/nowhere/uds_native.node)",
    );
  });
});

const C_PROGRAMS = ['original-server', 'original-client', 'reference-server', 'reference-client', 'reference-driver', 'uds-launcher'];

/** A copy of the installed package, without `missing` (c-reference/bin entries, or 'addon'). */
async function packageCopy(missing: string[]) {
  const dir = await tmpDir({ unsafeCleanup: true });
  for (const part of ['package.json', 'dist', 'docs']) cpSync(join(PROJECT_ROOT, part), join(dir.path, part), { recursive: true });
  symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(dir.path, 'node_modules'));
  mkdirSync(join(dir.path, 'c-reference', 'bin'), { recursive: true });
  for (const p of C_PROGRAMS) if (!missing.includes(p)) cpSync(join(PROJECT_ROOT, 'c-reference', 'bin', p), join(dir.path, 'c-reference', 'bin', p));
  if (!missing.includes('addon')) {
    mkdirSync(join(dir.path, 'build', 'Release'), { recursive: true });
    cpSync(join(PROJECT_ROOT, 'build', 'Release', 'uds_native.node'), join(dir.path, 'build', 'Release', 'uds_native.node'));
  }
  return dir;
}

async function runCopy(root: string, args: string[]) {
  const child = execa(process.execPath, [join(root, 'dist', 'suite', 'cli.js'), 'run', '--seed', '1', '--runs', '2', '--out', join(root, 'out'), ...args], {
    reject: false,
    timeout: 100_000,
    env: { CI: 'true' },
  });
  const r = await child;
  expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });
  return r;
}

describe('a broken install exits 3 before any case runs', () => {
  it('after npm install --ignore-scripts (no C programs, no addon): exit 3 with the fix, no report', async () => {
    const copy = await packageCopy([...C_PROGRAMS, 'addon']);
    try {
      const r = await runCopy(copy.path, []);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(/^uds-conformance: the suite's own c-original server program is missing \(.*\/c-reference\/bin\/original-server\): run `npm rebuild uds-conformance` \(in a clone: `npm run build`\)$/m);
      expect(r.stdout).not.toMatch(/FAIL|fail/);
      expect(existsSync(join(copy.path, 'out'))).toBe(false);
    } finally {
      await copy.cleanup();
    }
  });

  it.each([
    ['reference-driver', ['--property', 'delivery.payload'], /c-reference driver program is missing \(.*\/reference-driver\)/],
    ['reference-client', ['--server', 'ts-net', '--client', 'ts-net', '--property', 'delivery.payload'], /c-reference client program is missing \(.*\/reference-client\)/],
    ['addon', ['--server', 'ts-native', '--property', 'delivery.payload'], /Node-API addon is missing \(.*\/build\/Release\/uds_native\.node\): run `npm rebuild uds-conformance`/],
  ])('with %s deleted: exit 3 naming it', async (missing, args, message) => {
    const copy = await packageCopy([missing]);
    try {
      const r = await runCopy(copy.path, args);
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(message);
      expect(existsSync(join(copy.path, 'out'))).toBe(false);
    } finally {
      await copy.cleanup();
    }
  });

  it('a run that needs neither the missing addon nor ts-native runs as usual', async () => {
    const copy = await packageCopy(['addon']);
    try {
      const r = await runCopy(copy.path, ['--server', 'c-reference', '--client', 'c-reference', '--property', 'delivery.payload']);
      expect(r.stderr).not.toMatch(/addon/);
      expect(r.exitCode).toBe(0);
      expect(readdirSync(join(copy.path, 'out')).sort()).toEqual(['index.html', 'junit.xml', 'results.json', 'summary.md']);
    } finally {
      await copy.cleanup();
    }
  });
});

describe('the bin after a build from a clean tree', () => {
  it('npm run build and npm run prepare (npm ci) leave dist/suite/cli.js at mode 755', async () => {
    const copy = await tmpDir({ unsafeCleanup: true });
    try {
      for (const part of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'suite', 'fixtures', 'native', 'c-reference', 'docs']) {
        // Timestamps kept: make finds the C programs up to date and only tsc really runs.
        cpSync(join(PROJECT_ROOT, part), join(copy.path, part), { recursive: true, preserveTimestamps: true });
      }
      symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(copy.path, 'node_modules'));
      const cliJs = join(copy.path, 'dist', 'suite', 'cli.js');
      for (const script of ['build', 'prepare']) {
        rmSync(join(copy.path, 'dist'), { recursive: true, force: true });
        const r = await execa('npm', ['run', '--silent', script], { cwd: copy.path, reject: false, timeout: 120_000 });
        expect(r.stderr, script).toBe('');
        expect(r.exitCode, script).toBe(0);
        expect((statSync(cliJs).mode & 0o777).toString(8), script).toBe('755');
      }
    } finally {
      await copy.cleanup();
    }
  }, 240_000);
});
