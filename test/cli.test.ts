/**
 * The command a user runs: exit codes, usage errors that name the problem, results.json, the matrix,
 * replay of a reported counterexample, and nothing left behind.
 */
import { readFile, watch } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
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
    [['run', '--runs', 'many'], /--runs must be a positive integer, got "many"/],
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
      // ts-net cannot pass fds: its fd cells are unsupported (with the reason), everything else passes.
      const notPass = report.results.filter((x) => x.status !== 'pass');
      expect(notPass.every((x) => x.status === 'unsupported' && x.property.startsWith('fd.') && x.client === 'ts-net' && /does not pass fds/.test(x.reason ?? ''))).toBe(true);
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
