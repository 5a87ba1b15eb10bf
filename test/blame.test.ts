/**
 * Blame you can act on, and expectations that stay put:
 * - assignBlame's verdicts from re-run counts (a scripted re-run, so each count is exact), including
 *   "pairing" never being the answer when the other side is c-reference;
 * - a subject server that fails every other start, end to end: blamed on the server with its failure
 *   rate, and called flaky in results.json, the terminal, JUnit and summary.md;
 * - stableMessage on messages as real runs printed them;
 * - --update-expectations twice in a row leaves the manifest as it is, and a fresh update with the same
 *   seed writes the same bytes (no temp names, no socket names).
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import { C_BIN } from '../suite/harness/paths.js';
import type { Implementation, PropertyScope, ResultEntry } from '../suite/model/types.js';
import { assignBlame, stableMessage, updatedExpectations, type Rerun } from '../suite/plan/blame.js';
import type { Unit } from '../suite/plan/plan.js';
import type { Property } from '../suite/properties/property.js';
import type { RunReport } from '../suite/report/results.js';
import { cli } from './support/cli.js';

const impl = (name: string): Implementation => ({ name, kind: 'command', description: name, expectations: {}, server: { payload: true, command: { command: ['x'] } }, client: { command: { command: ['y'] } } });
const REFERENCE = impl('c-reference');
const SUBJECT = impl('subject');
const OTHER = impl('ts-net');

function unitOf(scope: PropertyScope, server: Implementation | undefined, client: Implementation | undefined): Unit {
  const property = { id: 'delivery.payload', level: 'MUST', category: 'delivery', scope, requirement: 'r', reference: 'seed' } as Property<any>;
  return { property, server, client, socketType: 'stream', address: 'pathname' };
}

function failing(unit: Unit): ResultEntry {
  return {
    server: unit.server?.name ?? '-',
    client: unit.client?.name ?? '-',
    property: unit.property.id,
    socketType: 'stream',
    address: 'pathname',
    status: 'fail',
    runs: 3,
    durationMs: 1,
    message: 'stdout differs',
    counterexample: { input: { length: 3 }, seed: 9, path: '2:0', numShrinks: 1 },
  };
}

/**
 * A re-run that fails, for each (server, client) it is asked about, as often as `failures` says out of
 * the 5 re-runs, and records what it was asked.
 */
function scripted(failures: Record<string, number>): { rerun: Rerun; asked: string[] } {
  const asked: string[] = [];
  const seen = new Map<string, number>();
  const rerun: Rerun = async (unit, ce) => {
    const key = `${unit.server?.name ?? '-'} × ${unit.client?.name ?? '-'}`;
    expect(ce).toEqual({ seed: 9, path: '2:0' });
    asked.push(key);
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    if (!(key in failures)) throw new Error(`unexpected re-run of ${key}`);
    return n < failures[key]!;
  };
  return { rerun, asked };
}

async function blame(unit: Unit, failures: Record<string, number>): Promise<{ result: ResultEntry; asked: string[] }> {
  const result = failing(unit);
  const { rerun, asked } = scripted(failures);
  await assignBlame([result], [unit], { config: { runs: 1, seed: 1, concurrency: 2 }, reference: REFERENCE, subjects: new Set(['subject']), reruns: 5, rerun });
  return { result, asked };
}

describe('assignBlame', () => {
  it('blames the subject when the other side is c-reference, with its failure rate, and calls a partial rate flaky', async () => {
    const always = await blame(unitOf('pairing', SUBJECT, REFERENCE), { 'subject × c-reference': 5 });
    expect(always.result).toMatchObject({ blame: 'server', blameRuns: { server: { failed: 5, of: 5 } } });
    expect(always.result.flaky).toBeUndefined();
    expect(always.asked).toHaveLength(5);

    const sometimes = await blame(unitOf('pairing', REFERENCE, SUBJECT), { 'c-reference × subject': 2 });
    expect(sometimes.result).toMatchObject({ blame: 'client', blameRuns: { client: { failed: 2, of: 5 } }, flaky: { failed: 2, of: 5 } });

    // Never again in 5 re-runs: still the subject's (c-reference is the oracle), never "pairing".
    const once = await blame(unitOf('pairing', SUBJECT, REFERENCE), { 'subject × c-reference': 0 });
    expect(once.result).toMatchObject({ blame: 'server', blameRuns: { server: { failed: 0, of: 5 } }, flaky: { failed: 0, of: 5 } });
  });

  it('with another peer, re-runs each role against c-reference and blames the one that still fails', async () => {
    const server = await blame(unitOf('pairing', SUBJECT, OTHER), { 'subject × c-reference': 4, 'c-reference × ts-net': 0 });
    expect(server.result).toMatchObject({ blame: 'server', blameRuns: { server: { failed: 4, of: 5 }, client: { failed: 0, of: 5 } }, flaky: { failed: 4, of: 5 } });
    const client = await blame(unitOf('pairing', OTHER, SUBJECT), { 'ts-net × c-reference': 0, 'c-reference × subject': 5 });
    expect(client.result).toMatchObject({ blame: 'client', blameRuns: { server: { failed: 0, of: 5 }, client: { failed: 5, of: 5 } } });
    expect(client.result.flaky).toBeUndefined();
    const both = await blame(unitOf('pairing', SUBJECT, OTHER), { 'subject × c-reference': 5, 'c-reference × ts-net': 1 });
    expect(both.result).toMatchObject({ blame: 'unknown', blameRuns: { server: { failed: 5, of: 5 }, client: { failed: 1, of: 5 } } });
    expect(both.result.flaky).toBeUndefined();
  });

  it('when each side holds with c-reference, re-runs the pairing itself: a real mismatch, or a flaky one', async () => {
    const real = await blame(unitOf('pairing', SUBJECT, OTHER), { 'subject × c-reference': 0, 'c-reference × ts-net': 0, 'subject × ts-net': 5 });
    expect(real.result).toMatchObject({ blame: 'pairing', blameRuns: { server: { failed: 0, of: 5 }, client: { failed: 0, of: 5 }, pairing: { failed: 5, of: 5 } } });
    expect(real.result.flaky).toBeUndefined();
    const flaky = await blame(unitOf('pairing', SUBJECT, OTHER), { 'subject × c-reference': 0, 'c-reference × ts-net': 0, 'subject × ts-net': 3 });
    expect(flaky.result).toMatchObject({ blame: 'pairing', flaky: { failed: 3, of: 5 } });
  });

  it('re-runs a single-role unit as it is (the oracle already plays the other side)', async () => {
    const r = await blame(unitOf('client', undefined, SUBJECT), { '- × subject': 1 });
    expect(r.result).toMatchObject({ blame: 'client', blameRuns: { client: { failed: 1, of: 5 } }, flaky: { failed: 1, of: 5 } });
  });

  it('shares the re-runs of one experiment: two cells that shrank to the same input with the same peers', async () => {
    const a = unitOf('pairing', SUBJECT, REFERENCE);
    const b = unitOf('pairing', SUBJECT, OTHER);
    const results = [failing(a), failing(b)];
    const { rerun, asked } = scripted({ 'subject × c-reference': 5, 'c-reference × ts-net': 0 });
    await assignBlame(results, [a, b], { config: { runs: 1, seed: 1 }, reference: REFERENCE, subjects: new Set(['subject']), reruns: 5, rerun });
    expect(results.map((r) => r.blame)).toEqual(['server', 'server']);
    expect(asked.filter((k) => k === 'subject × c-reference')).toHaveLength(5);
  });

  it('leaves passing cells and cells without a subject alone', async () => {
    const unit = unitOf('pairing', OTHER, REFERENCE);
    const results = [failing(unit), { ...failing(unitOf('pairing', SUBJECT, REFERENCE)), status: 'pass' as const }];
    const { rerun, asked } = scripted({});
    await assignBlame(results, [unit, unitOf('pairing', SUBJECT, REFERENCE)], { config: { runs: 1, seed: 1 }, reference: REFERENCE, subjects: new Set(['subject']), rerun });
    expect(asked).toEqual([]);
    expect(results.map((r) => r.blame)).toEqual([undefined, undefined]);
  });
});

describe('stableMessage', () => {
  // As runs printed them (harness pid 10941, "8fx" in base 36; a case dir under /tmp).
  const origin = { pid: 10941 };
  it.each([
    [
      'given a 109-byte path the server listened at the 107-byte prefix "/tmp/udsc-10941-xAPTnt/LLLLLLLLLL"',
      'given a 109-byte path the server listened at the 107-byte prefix "{dir}/LLLLLLLLLL"',
    ],
    ['server never listened at "s8fx1uv": server exited before its socket was listening', 'server never listened at "{path}": server exited before its socket was listening'],
    ['server never listened at "/tmp/udsc-10941-Ab3dE9/s8fx1v7": server exited', 'server never listened at "{path}": server exited'],
    ['the server could not read /tmp/udsc-10941-Ab3dE9-p/payload-17.bin', 'the server could not read {payload}'],
    ["no connection was ever queued on the server's listening socket (inode 48213)", "no connection was ever queued on the server's listening socket (inode {inode})"],
    [
      'stdout differs from the payload at offset 4096 (expected 65535 bytes, got 4096) (shrinking stopped at the time budget (60000 ms) after 12 shrinks: this is the smallest counterexample found by then)',
      'stdout differs from the payload at offset 4096 (expected 65535 bytes, got 4096)',
    ],
    [
      'the server sent everything but did not close the connection (it failed under the shortened shrink deadline of 2000 ms (a replay runs it with the full 15000 ms))',
      'the server sent everything but did not close the connection',
    ],
    // Nothing to take out: byte counts, exits and words that merely start with "s" stay.
    ['the client printed 1024 of the 1025 bytes sent before it exited', 'the client printed 1024 of the 1025 bytes sent before it exited'],
    ['a client given a stale socket ended with exit 0 and stderr ""', 'a client given a stale socket ended with exit 0 and stderr ""'],
  ])('%s', (message, stable) => {
    expect(stableMessage(message, origin)).toBe(stable);
  });

  it('is what a new expectation is written with', () => {
    const r: ResultEntry = { ...failing(unitOf('pairing', SUBJECT, REFERENCE)), blame: 'server', message: 'server never listened at "/tmp/udsc-10941-Ab3dE9/s8fx1v7": server exited' };
    expect(updatedExpectations(SUBJECT, [r], '2026-01-02', origin)).toEqual({
      'delivery.payload': { status: 'fail', role: 'server', reason: 'found by uds-conformance on 2026-01-02: server never listened at "{path}": server exited' },
    });
  });
});

describe('a flaky subject, end to end', () => {
  it('is blamed with its failure rate and called flaky in every report', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      // The reference server, except that every other start exits at once: 1st serves, 2nd fails, ...
      const script = join(dir.path, 'flaky-server.sh');
      const counter = join(dir.path, 'starts');
      await writeFile(counter, '0\n');
      await writeFile(script, `#!/bin/sh\nn=$(cat '${counter}')\necho $((n + 1)) > '${counter}'\nif [ $((n % 2)) -eq 1 ]; then echo "flaky-server: refusing start $n" >&2; exit 1; fi\nexec '${join(C_BIN, 'reference-server')}' "$@"\n`);
      await chmod(script, 0o755);
      const manifest = join(dir.path, 'flaky.json');
      await writeFile(manifest, JSON.stringify({ name: 'flaky-server', server: { command: [script, '{path}', '{payload}'], payloadRequired: true } }));
      const out = join(dir.path, 'out');
      const r = await cli(['run', '--runs', '3', '--seed', '5', '--jobs', '1', '--no-shrink', '--subject', manifest, '--server', 'flaky-server', '--client', 'c-reference', '--property', 'delivery.payload', '--out', out]);
      expect(r.exitCode, r.stderr).toBe(1);
      const report = JSON.parse(await readFile(join(out, 'results.json'), 'utf8')) as RunReport;
      const cell = report.results.find((x) => x.server === 'flaky-server' && x.property === 'delivery.payload')!;
      // The run stops at its first failure; the 5 re-runs alternate, starting where the run left off.
      const starts = Number((await readFile(counter, 'utf8')).trim());
      const failedReruns = Math.floor(starts / 2) - Math.floor((starts - 5) / 2);
      expect(cell).toMatchObject({ status: 'fail', level: 'MUST', blame: 'server', blameRuns: { server: { failed: failedReruns, of: 5 } }, flaky: { failed: failedReruns, of: 5 } });
      expect(failedReruns).toBeGreaterThanOrEqual(2);
      expect(failedReruns).toBeLessThanOrEqual(3);
      const rate = `flaky: failed ${failedReruns} of 5 re-runs`;
      expect(r.stdout).toContain(`blame: server (server: ${failedReruns}/5) · ${rate}`);
      expect(await readFile(join(out, 'junit.xml'), 'utf8')).toContain(`<property name="flaky" value="${failedReruns}/5"/>`);
      expect(await readFile(join(out, 'summary.md'), 'utf8')).toContain(rate);
      expect(await readFile(join(out, 'index.html'), 'utf8')).toContain('"flaky":{"failed"');
    } finally {
      await dir.cleanup();
    }
  });
});

describe('--update-expectations', () => {
  /** The subject as a manifest, as a user would write it, in `dir`. */
  async function mutantManifest(dir: string, name: string): Promise<string> {
    const m = mutants().find((x) => x.implementation.name === name)!;
    const file = join(dir, `${name}.json`);
    const server = m.implementation.server!;
    await writeFile(file, `${JSON.stringify({ name, server: { command: server.command!.command, withoutPayload: { command: server.commandWithoutPayload!.command } } }, null, 2)}\n`);
    return file;
  }

  it('twice in a row leaves the manifest unchanged, and writes no temp or socket names', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      // Two mutants whose messages name case files: the truncated path lies in the case dir, and the
      // stale socket's name is generated per case.
      const names = ['mutant-server-truncates-long-path', 'mutant-server-keeps-stale'];
      const files = await Promise.all(names.map((n) => mutantManifest(dir.path, n)));
      const args = ['run', '--runs', '3', '--seed', '21', '--no-shrink', '--client', 'c-reference', '--property', 'path.too-long-server', '--property', 'stale-path.replaced', '--update-expectations'];
      for (const f of files) args.push('--subject', f, '--server', names[files.indexOf(f)]!);
      const first = await cli([...args, '--out', join(dir.path, 'out1')]);
      expect(first.exitCode, first.stderr).toBe(1);
      const written = await Promise.all(files.map((f) => readFile(f, 'utf8')));
      const reasons = written.map((text) => Object.values((JSON.parse(text) as { expectations: Record<string, { reason: string }> }).expectations).map((e) => e.reason));
      expect(reasons.map((r) => r.length > 0)).toEqual([true, true]);
      for (const reason of reasons.flat()) {
        expect(reason).toMatch(/^found by uds-conformance on \d{4}-\d{2}-\d{2}: /);
        expect(reason).not.toMatch(/udsc-|\/tmp\/|payload-\d/);
        expect(reason).not.toMatch(/"s[0-9a-z]{4,8}"/);
      }
      expect(reasons.flat().join('\n')).toMatch(/\{dir\}|\{path\}/);

      const second = await cli([...args, '--out', join(dir.path, 'out2')]);
      expect(second.exitCode, second.stdout).toBe(0);
      expect(await Promise.all(files.map((f) => readFile(f, 'utf8')))).toEqual(written);

      // A fresh copy updated by another process (another pid, other case dirs) writes the same bytes.
      const fresh = join(dir.path, 'fresh');
      await mkdir(fresh);
      const freshFiles = await Promise.all(names.map((n) => mutantManifest(fresh, n)));
      const freshArgs = args.map((a) => (files.includes(a) ? freshFiles[files.indexOf(a)]! : a));
      const third = await cli([...freshArgs, '--out', join(dir.path, 'out3')]);
      expect(third.exitCode, third.stderr).toBe(1);
      expect(await Promise.all(freshFiles.map((f) => readFile(f, 'utf8')))).toEqual(written);
    } finally {
      await dir.cleanup();
    }
  });
});
