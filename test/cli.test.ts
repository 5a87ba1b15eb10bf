/**
 * The command a user runs: exit codes, usage errors that name the problem, results.json, the matrix,
 * replay of a reported counterexample, and nothing left behind.
 */
import { chmodSync, mkdirSync, readdirSync, symlinkSync, watch as fsWatch, writeFileSync } from 'node:fs';
import { readFile, watch } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import type { RunReport } from '../suite/report/results.js';
import { cli, CLI } from './support/cli.js';
import { leftoversOf } from './support/leftovers.js';



describe('usage', () => {
  it('prints help and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('uds-conformance run');
    expect(r.stdout).toMatch(/--property ID/);
  });

  it.each([
    [['run', '--bogus'], /Unknown option '--bogus'/],
    [['run', '--runs', 'many'], /--runs must be a positive integer from 1 to 100000, got "many"/],
    [['run', '--runs', '0'], /--runs must be a positive integer/],
    [['run', '--seed', '1.5'], /--seed must be an integer/],
    [['run', '--server', 'nope'], /--server nope: no such implementation \(known: c-original, c-reference, ts-net/],
    [['run', '--client', 'nope'], /--client nope: no such implementation/],
    [['run', '--property', 'nothing.*'], /--property nothing\.\*: matches no property/],
    [['replay', '--property', 'delivery.payload', '--server', 'c-reference', '--client', 'c-reference'], /replay needs --seed/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [[], /Usage:/],
  ])('%j exits 2 and names the problem', async (args, message) => {
    const r = await cli(args);
    expect(r.exitCode).toBe(2);
    expect(`${r.stderr}${r.stdout}`).toMatch(message);
  });
});

describe('run', () => {
  it('writes results.json in schema 2 and prints the matrix; exit 0 when nothing is unexpected', async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', '--runs', '5', '--seed', '7', '--out', out.path, '--server', 'c-reference', '--client', 'ts-net', '--client', 'c-reference']);
      expect(r.stderr).not.toContain('harness failure');
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('c-reference × ts-net');
      const report = JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport;
      expect(report).toMatchObject({ schemaVersion: 2, tool: { name: 'uds-conformance' }, seed: 7, runs: 5 });
      expect(Object.keys(report.summary).sort()).toEqual(['error', 'expected-fail', 'fail', 'pass', 'unexpected-pass', 'unsupported']);
      expect(report.implementations.map((i) => i.name)).toEqual(['c-original', 'c-reference', 'ts-net', 'ts-native']);
      expect(report.implementations[0]).toMatchObject({ roles: ['server', 'client'], kind: 'builtin', payload: false });
      for (const p of report.properties) expect(p).toMatchObject({ id: expect.any(String), level: expect.stringMatching(/^(MUST|SHOULD|MAY)$/), requirement: expect.any(String), reference: expect.any(String) });
      expect(report.results.length).toBeGreaterThan(0);
      // ts-net's driver passes no fds and has only stream sockets, without features: those cells are
      // unsupported (with the reason); its abstract names are padded (Node 20, expected-fail);
      // everything else passes.
      const notPass = report.results.filter((x) => x.status !== 'pass');
      const explained = (x: (typeof notPass)[number]): boolean =>
        x.client === 'ts-net' &&
        ((x.status === 'unsupported' && /ts-net's driver (has no \w+ sockets|does not pass fds|lacks)/.test(x.reason ?? '')) ||
          (x.status === 'expected-fail' && x.property.startsWith('abstract.') && /padded/.test(x.reason ?? '')) ||
          // node:net's eager reads and its destroy on a write error: intermittent known failures.
          (x.status === 'expected-fail' && ['stream.close-unread-reset', 'sequence.equivalent'].includes(x.property)));
      expect(notPass.filter((x) => !explained(x)).map((x) => `${x.property} ${x.socketType} ${x.address} ${x.client}: ${x.status} ${x.reason}`)).toEqual([]);
      expect(report.summary.pass).toBe(report.results.length - notPass.length);
      expect(report.summary.pass).toBeGreaterThan(10);
    } finally {
      await out.cleanup();
    }
  });

  it('exits 3 when nothing applicable ran', async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', '--out', out.path, '--property', 'delivery.payload', '--server', 'c-original']);
      expect(r.exitCode).toBe(3);
    } finally {
      await out.cleanup();
    }
  });

  it('grades the exit by level: a SHOULD failure is reported as one and exits 0, and 1 with --strict', async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      // fd.scm-max is a SHOULD; this mutant sends 253 of 254 fds and succeeds instead of EINVAL.
      const mutant = join(PROJECT_ROOT, 'fixtures', 'mutants', 'bin', 'driver-server-drops-over-max');
      writeFileSync(join(out.path, 'm.json'), JSON.stringify({ name: 'drops-over-max', driver: { command: [mutant] } }));
      const args = ['run', '--runs', '3', '--seed', '4', '--no-shrink', '--subject', join(out.path, 'm.json'), '--server', 'drops-over-max', '--client', 'c-reference', '--property', 'fd.scm-max'];
      const lenient = await cli([...args, '--out', join(out.path, 'lenient')]);
      expect(lenient.exitCode, lenient.stderr).toBe(0);
      expect(lenient.stdout).toMatch(/FAIL {2}fd\.scm-max {2}drops-over-max × c-reference {2}\(SHOULD\)\n {2}a SHOULD failure: reported, but it does not fail the run \(--strict makes it\)/);
      const report = JSON.parse(await readFile(join(out.path, 'lenient', 'results.json'), 'utf8')) as RunReport;
      expect(report.results.find((x) => x.server === 'drops-over-max')).toMatchObject({ property: 'fd.scm-max', level: 'SHOULD', status: 'fail', blame: 'server' });
      expect(await readFile(join(out.path, 'lenient', 'junit.xml'), 'utf8')).toMatch(/<failure type="fail \(SHOULD\)" message="\[SHOULD\] /);
      expect(await readFile(join(out.path, 'lenient', 'summary.md'), 'utf8')).toMatch(/^## uds-conformance: ⚠️ 1 unexpected, SHOULD or MAY failures only$/m);
      const strict = await cli([...args, '--strict', '--out', join(out.path, 'strict')]);
      expect(strict.exitCode, strict.stderr).toBe(1);
      expect((await cli(['replay', '--strict'])).stderr).toMatch(/--strict is only for run, report and merge/);
    } finally {
      await out.cleanup();
    }
  });

  it("finds the seed client's NUL quirk, and its replay line reproduces it", async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', '--runs', '20', '--out', out.path, '--property', 'delivery.payload', '--server', 'c-reference', '--client', 'c-original']);
      expect(r.exitCode).toBe(0);
      const report = JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport;
      const [result] = report.results;
      expect(result).toMatchObject({ status: 'expected-fail', server: 'c-reference', client: 'c-original' });
      // Shrunk to the smallest payload that shows the bug: a single NUL byte.
      expect(result!.counterexample!.input).toEqual({ length: 1, head: '@0: "\\x00"' });
      expect(result!.evidence!.bytes).toMatchObject({ expectedLength: 1, actualLength: 0, firstDifference: 0 });
      const replay = result!.replay!.split(' ').slice(2);
      const again = await cli(replay);
      expect(again.exitCode).toBe(1);
      const replayed = JSON.parse(again.stdout) as { status: string; counterexample: { input: unknown } };
      expect(replayed.status).toBe('expected-fail');
      expect(replayed.counterexample.input).toEqual(result!.counterexample!.input);
    } finally {
      await out.cleanup();
    }
  });
});

describe('interruption', () => {
  it('Ctrl-C kills every subject process and removes every case dir', async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      const child = execa(process.execPath, [CLI, 'run', '--runs', '100000', '--out', out.path, '--property', 'delivery.payload', '--property', 'path.forms'], {
        reject: false,
        timeout: 60_000,
        env: { CI: 'true' },
      });
      // A case dir of this harness appearing means cases are running.
      const marker = `udsc-${child.pid}-`;
      const watcher = watch(os.tmpdir());
      try {
        for await (const event of watcher) if (event.filename?.startsWith(marker)) break;
      } finally {
        // fs/promises watch ends with the loop
      }
      child.kill('SIGINT');
      const r = await child;
      expect(r.exitCode).toBe(130);
      expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });
    } finally {
      await out.cleanup();
    }
  });
});

describe('bounded, validated input (issue 10, item 10)', () => {
  it.each([
    [['--deadline', '2147483648'], /--deadline must be a positive integer from 100 to 86400000, got "2147483648"/],
    [['--deadline', '99'], /--deadline must be a positive integer from 100 to 86400000, got "99"/],
    [['--runs', '100001'], /--runs must be a positive integer from 1 to 100000, got "100001"/],
    [['--jobs', '0'], /--jobs must be a positive integer from 1 to 256, got "0"/],
    [['--jobs', '257'], /--jobs must be a positive integer from 1 to 256, got "257"/],
    [['--seed', '2147483648'], /--seed must be an integer from -2147483648 to 2147483647, got "2147483648"/],
    [['--seed=-2147483649'], /--seed must be an integer from -2147483648 to 2147483647, got "-2147483649"/],
    [['--unit-budget', '999'], /--unit-budget must be a positive integer from 1000 to 86400000, got "999"/],
    [['--unit-budget', '1e6'], /--unit-budget must be a positive integer from 1000 to 86400000, got "1e6"/],
    [['--quiet-ms', '600001'], /--quiet-ms must be a positive integer from 100 to 600000, got "600001"/],
    [['--quiet-ms', '99'], /--quiet-ms must be a positive integer from 100 to 600000, got "99"/],
  ])('run %j exits 2 naming the flag and its range, and creates nothing', async (args, message) => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', ...args, '--out', join(dir.path, 'out'), '--property', 'delivery.payload']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(readdirSync(dir.path)).toEqual([]);
    } finally {
      await dir.cleanup();
    }
  });

  it('the largest values in range are accepted (the deadline no longer overflows the timer)', async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', '--deadline', '86400000', '--unit-budget', '86400000', '--quiet-ms', '600000', '--seed', '2147483647', '--runs', '3',
        '--jobs', '256', '--out', out.path, '--property', 'delivery.payload', '--server', 'c-reference', '--client', 'c-reference']);
      expect(r.stderr).not.toMatch(/uds-conformance:/);
      expect(r.exitCode).toBe(0);
      expect((JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport).seed).toBe(2147483647);
    } finally {
      await out.cleanup();
    }
  });

  describe('--out is checked before any case runs', () => {
    it.each([
      ['names a file', (d: string) => join(d, 'file'), (d: string) => `--out ${join(d, 'file')} names a file, not a directory`],
      ['lies under a file', (d: string) => join(d, 'file', 'sub', 'out'), (d: string) => `--out ${join(d, 'file', 'sub', 'out')} lies under a file (${join(d, 'file')}), not a directory`],
      ['is in /proc', () => '/proc/uds-conformance-out', () => '--out /proc/uds-conformance-out is in /proc, a kernel file system'],
      ['is in /sys', () => '/sys/kernel/uds-conformance-out', () => '--out /sys/kernel/uds-conformance-out is in /sys, a kernel file system'],
      ['is in /proc through a symlink', (d: string) => join(d, 'link', 'out'), (d: string) => `--out ${join(d, 'link', 'out')} is in /proc, a kernel file system`],
    ])('exit 2 when it %s, naming it; nothing is written', async (_what, out, message) => {
      const dir = await tmpDir({ unsafeCleanup: true });
      try {
        writeFileSync(join(dir.path, 'file'), 'mine\n');
        symlinkSync('/proc/self', join(dir.path, 'link'));
        const started = Date.now();
        for (const command of [['run', '--property', 'delivery.payload'], ['merge', join(dir.path, 'file')]]) {
          const r = await cli([...command, '--out', out(dir.path)]);
          expect(r.exitCode, command[0]).toBe(2);
          expect(r.stderr, command[0]).toContain(`uds-conformance: ${message(dir.path)}`);
        }
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(readdirSync(dir.path).sort()).toEqual(['file', 'link']);
        expect(await readFile(join(dir.path, 'file'), 'utf8')).toBe('mine\n');
      } finally {
        await dir.cleanup();
      }
    });

    it('exit 2 when it is not writable (run as nobody when the tests run as root, who may write anywhere)', async () => {
      const dir = await tmpDir({ unsafeCleanup: true, mode: 0o755 });
      try {
        const locked = join(dir.path, 'locked');
        mkdirSync(locked, { mode: 0o555 });
        const asUser = process.getuid!() === 0 ? { uid: 65534, gid: 65534 } : {};
        for (const out of [locked, join(locked, 'sub')]) {
          const child = execa(process.execPath, [CLI, 'run', '--property', 'delivery.payload', '--out', out], { reject: false, env: { CI: 'true' }, timeout: 60_000, ...asUser });
          const r = await child;
          expect(r.exitCode).toBe(2);
          expect(r.stderr).toContain(`uds-conformance: --out ${out} is not writable (EACCES on ${locked})`);
          expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });
        }
        expect(readdirSync(locked)).toEqual([]);
      } finally {
        chmodSync(join(dir.path, 'locked'), 0o755);
        await dir.cleanup();
      }
    });
  });

  describe('one --out, one run at a time', () => {
    const filters = ['--property', 'delivery.*', '--server', 'c-reference', '--client', 'c-reference'];

    /** seed and startedAt as each of the four reports shows them. */
    async function provenance(out: string) {
      const results = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as RunReport;
      const junit = await readFile(join(out, 'junit.xml'), 'utf8');
      const summary = await readFile(join(out, 'summary.md'), 'utf8');
      const html = await readFile(join(out, 'index.html'), 'utf8');
      const embedded = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { report: RunReport };
      return {
        results: { seed: results.seed, startedAt: results.startedAt },
        junit: { seed: Number(/<property name="seed" value="(-?\d+)"\/>/.exec(junit)![1]), startedAt: /timestamp="([^"]+)"/.exec(junit)![1] },
        summary: { seed: Number(/seed (-?\d+)/.exec(summary)![1]), startedAt: results.startedAt },
        html: { seed: embedded.report.seed, startedAt: embedded.report.startedAt },
      };
    }

    const inUse = (pid: number) => new RegExp(`--out \\S+ is in use by another run \\(pid ${pid}, \\S+\\.uds-conformance\\.lock\\): wait for it to finish or choose another --out`);

    // Started together, the two usually overlap and one is refused; on a slow machine they may not, and
    // both write in turn. Either way the four reports must agree. The next test forces the overlap.
    it('two runs started together leave one run\'s complete set of reports', async () => {
      const out = await tmpDir({ unsafeCleanup: true });
      try {
        const seeds = [101, 202];
        const children = seeds.map((seed) => execa(process.execPath, [CLI, 'run', '--runs', '10', '--seed', String(seed), '--out', out.path, ...filters], { reject: false, env: { CI: 'true' }, timeout: 100_000 }));
        const rs = await Promise.all(children);
        const winners = seeds.filter((_, i) => rs[i]!.exitCode === 0);
        expect(winners.length).toBeGreaterThan(0);
        rs.forEach((r, i) => {
          if (r.exitCode !== 0) {
            expect(r.exitCode).toBe(2);
            expect(r.stderr).toMatch(inUse(children[1 - i]!.pid!));
          }
        });
        const p = await provenance(out.path);
        expect(winners).toContain(p.results.seed);
        for (const report of [p.junit, p.summary, p.html]) expect(report).toEqual(p.results);
        expect(readdirSync(out.path).sort()).toEqual(['index.html', 'junit.xml', 'results.json', 'summary.md']);
      } finally {
        await out.cleanup();
      }
    });

    it('a run into an --out that a live run holds exits 2 at once naming its pid, and the first run\'s reports are whole', async () => {
      const out = await tmpDir({ unsafeCleanup: true });
      try {
        // The second run starts once the first holds the lock, and the first is stopped meanwhile, so
        // that the two overlap whatever the machine's speed.
        const lockSeen = new Promise<void>((resolve) => {
          const w = fsWatch(out.path, (_event, name) => {
            if (name === '.uds-conformance.lock') {
              w.close();
              resolve();
            }
          });
        });
        const first = execa(process.execPath, [CLI, 'run', '--runs', '10', '--seed', '303', '--out', out.path, ...filters], { reject: false, env: { CI: 'true' }, timeout: 100_000 });
        await lockSeen;
        process.kill(first.pid!, 'SIGSTOP');
        let second;
        try {
          second = await cli(['run', '--runs', '10', '--seed', '404', '--out', out.path, ...filters]);
        } finally {
          process.kill(first.pid!, 'SIGCONT');
        }
        expect(second.exitCode).toBe(2);
        expect(second.stderr).toMatch(inUse(first.pid!));
        expect((await first).exitCode).toBe(0);
        const p = await provenance(out.path);
        expect(p.results.seed).toBe(303);
        for (const report of [p.junit, p.summary, p.html]) expect(report).toEqual(p.results);
        expect(readdirSync(out.path).sort()).toEqual(['index.html', 'junit.xml', 'results.json', 'summary.md']);
      } finally {
        await out.cleanup();
      }
    });

    it('a stale lock (its pid is dead) is taken over; a live one is left alone', async () => {
      const out = await tmpDir({ unsafeCleanup: true });
      try {
        const gone = execa('true');
        await gone;
        const lock = join(out.path, '.uds-conformance.lock');
        writeFileSync(lock, `${gone.pid}\n`);
        const r = await cli(['run', '--runs', '3', '--seed', '5', '--out', out.path, ...filters]);
        expect(r.exitCode).toBe(0);
        expect(readdirSync(out.path).sort()).toEqual(['index.html', 'junit.xml', 'results.json', 'summary.md']);
        // This test's own process is alive: a lock naming it is respected, by report and merge too.
        writeFileSync(lock, `${process.pid}\n`);
        for (const args of [['run', '--runs', '3', '--seed', '6', ...filters], ['report', '--from', join(out.path, 'results.json')]]) {
          const again = await cli([...args, '--out', out.path]);
          expect(again.exitCode, args[0]).toBe(2);
          expect(again.stderr, args[0]).toMatch(inUse(process.pid));
        }
        expect(await readFile(lock, 'utf8')).toBe(`${process.pid}\n`);
        expect((JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport).seed).toBe(5);
      } finally {
        await out.cleanup();
      }
    });
  });
});

describe('start-up loads only what the command uses (issue 17, item 4)', () => {
  // Every module the child loads: ESM through a resolve hook (it runs on a loader thread, so it appends
  // to the file itself rather than posting messages that might not arrive before exit), and CommonJS
  // (ajv's files, the .node addon) from require's cache at exit. No timing: a module is loaded or not.
  const RESOLVE_HOOKS = `import { appendFileSync } from 'node:fs'; let file; export function initialize(data) { file = data.file; } export async function resolve(specifier, context, next) { const r = await next(specifier, context); appendFileSync(file, r.url + '\\n'); return r; }`;
  const PRELOAD = `import { register, createRequire } from 'node:module'; import { appendFileSync } from 'node:fs'; const file = process.env.UDSC_LOADED_FILE; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(RESOLVE_HOOKS)}), { data: { file } }); process.on('exit', () => appendFileSync(file, Object.keys(createRequire('/').cache).map((f) => 'file://' + f + '\\n').join('')));`;

  async function modulesLoadedBy(args: string[]): Promise<{ exitCode: number | undefined; modules: string[] }> {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const file = join(dir.path, 'loaded.txt');
      writeFileSync(file, '');
      const child = execa(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(PRELOAD)}`, CLI, ...args], { reject: false, timeout: 60_000, env: { CI: 'true', UDSC_LOADED_FILE: file } });
      const r = await child;
      expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });
      const modules = [...new Set((await readFile(file, 'utf8')).split('\n').filter(Boolean))];
      // The hook saw the program itself: an empty list would pass every check below.
      expect(modules.some((m) => m.endsWith('/dist/suite/cli.js'))).toBe(true);
      return { exitCode: r.exitCode, modules };
    } finally {
      await dir.cleanup();
    }
  }

  /** What no listing needs: ajv, execa, c8, the progress bar, the addon, the runner, the reporters. */
  const HEAVY = [/\/node_modules\/(ajv|execa|c8|cli-progress)\//, /\.node$/, /\/dist\/native\//, /\/dist\/suite\/run\.js$/, /\/dist\/suite\/plan\/runner\.js$/, /\/dist\/suite\/report\/(html|junit|write)\.js$/];

  it.each([['--help'], ['--version']])('%s loads no package, no property and nothing of the harness', async (flag) => {
    const { exitCode, modules } = await modulesLoadedBy([flag]);
    expect(exitCode).toBe(0);
    expect(modules.filter((m) => /\/node_modules\/|\.node$|\/dist\/native\/|\/dist\/suite\/(properties|harness\/(?!paths\.js)|plan|report)\//.test(m))).toEqual([]);
  });

  it('list reads the built catalog: no property module, and none of ajv, execa, c8, the addon, the runner or the reporters', async () => {
    const { exitCode, modules } = await modulesLoadedBy(['list']);
    expect(exitCode).toBe(0);
    expect(modules.filter((m) => /\/dist\/suite\/properties\/(?!write-catalog)/.test(m))).toEqual([]);
    expect(modules.filter((m) => HEAVY.some((re) => re.test(m)))).toEqual([]);
  });

  it('run --dry-run loads neither execa, c8, the addon nor a reporter (they load when a run uses them)', async () => {
    const { exitCode, modules } = await modulesLoadedBy(['run', '--dry-run']);
    expect(exitCode).toBe(0);
    expect(modules.filter((m) => /\/node_modules\/(execa|c8)\/|\.node$|\/dist\/suite\/report\/(html|junit|markdown)\.js$/.test(m))).toEqual([]);
  });
});
