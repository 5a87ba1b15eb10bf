/**
 * Listing, selecting, versions (issue 16, item 2), through the built CLI as a user runs it: --version,
 * `list --property GLOB`, `run --dry-run` (the units, their count, no process started), --exclude and
 * --exclude-pairing (through the plan, as the real run takes them), --help with every flag in groups,
 * and the terminal report within COLUMNS with colour by NO_COLOR / FORCE_COLOR.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { execa } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { HELP, OPTIONS } from '../suite/cli.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { parsePairingPattern } from '../suite/plan/dry-run.js';
import { planUnits } from '../suite/plan/plan.js';
import { allProperties } from '../suite/properties/index.js';
import { listProperties } from '../suite/properties/list.js';
import { builtinImplementations } from '../suite/registry.js';
import type { RunReport } from '../suite/report/results.js';
import { CLI } from './support/cli.js';
import { leftoversOf } from './support/leftovers.js';

/** The built CLI with this environment (support/cli.ts's `cli` sets CI only), checked for leftovers. */
async function cliWith(args: string[], env: Record<string, string> = {}) {
  const child = execa(process.execPath, [CLI, ...args], { reject: false, timeout: 110_000, env: { CI: 'true', NO_COLOR: '', FORCE_COLOR: undefined, COLUMNS: undefined, ...env } });
  const result = await child;
  expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });
  return result;
}

const widest = (text: string): number => Math.max(...text.split('\n').map((l) => [...stripVTControlCharacters(l)].length));

describe('--version', () => {
  const version = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  it.each([['--version'], ['-V']])('%s prints the package version and exits 0', async (flag) => {
    const r = await cliWith([flag]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(version);
  });
});

describe('--help', () => {
  it('names every flag the command line takes, in groups', async () => {
    for (const flag of Object.keys(OPTIONS)) expect(HELP, flag).toMatch(new RegExp(`--${flag}\\b`));
    for (const flag of ['--subject', '--subjects-only', '--update-expectations', '--dry-run', '--exclude', '--exclude-pairing', '--version']) expect(HELP).toContain(flag);
    const r = await cliWith(['--help']);
    expect(r.exitCode).toBe(0);
    const groups = ['Options of run, selection', 'Subjects', 'Execution:', 'Output:'].map((g) => r.stdout.indexOf(g));
    expect(groups.every((i) => i > 0)).toBe(true);
    expect([...groups].sort((a, b) => a - b)).toEqual(groups);
    // Each flag in its group.
    const at = (flag: string): number => r.stdout.indexOf(`\n  ${flag} `);
    expect(at('--exclude-pairing')).toBeLessThan(groups[1]!);
    expect(at('--subjects-only')).toBeGreaterThan(groups[1]!);
    expect(at('--jobs')).toBeGreaterThan(groups[2]!);
    expect(at('--strict')).toBeGreaterThan(groups[3]!);
  });
});

describe('list', () => {
  it('listProperties filters with the globs --property takes, and gives data, not checks', () => {
    const all = listProperties();
    expect(all.map((p) => p.id)).toEqual(allProperties().map((p) => p.id));
    const fd = listProperties({ patterns: ['fd.*'] });
    expect(fd.length).toBeGreaterThan(3);
    expect(fd.every((p) => p.id.startsWith('fd.'))).toBe(true);
    expect(listProperties({ patterns: ['fd.*', 'delivery.payload'] }).map((p) => p.id)).toEqual([...all.filter((p) => p.id === 'delivery.payload' || p.id.startsWith('fd.')).map((p) => p.id)]);
    expect(listProperties({ patterns: ['nothing.*'] })).toEqual([]);
    for (const p of all) {
      expect(Object.keys(p).sort()).toEqual(['addresses', 'category', 'id', 'level', 'reference', 'requirement', 'scope', 'socketTypes']);
      expect(p.socketTypes!.length).toBeGreaterThan(0);
    }
  });

  it('--property GLOB lists only what it matches, as JSON, Markdown or text; a glob matching nothing exits 2 naming it', async () => {
    const json = await cliWith(['list', '--property', 'fd.*', '--json']);
    expect(json.exitCode).toBe(0);
    expect((JSON.parse(json.stdout) as Array<{ id: string }>).map((p) => p.id)).toEqual(listProperties({ patterns: ['fd.*'] }).map((p) => p.id));
    const md = await cliWith(['list', '--property', 'delivery.*', '--markdown']);
    expect(md.stdout.match(/^\| `delivery\./gm)).toHaveLength(listProperties({ patterns: ['delivery.*'] }).length);
    expect(md.stdout).not.toContain('`fd.');
    const text = await cliWith(['list', '--property', 'delivery.payload']);
    expect(text.stdout).toMatch(/^delivery\.payload +MUST +delivery /m);
    expect(text.stdout).toMatch(/\n1 properties$/);
    const bad = await cliWith(['list', '--property', 'nothing.*']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--property nothing\.\*: matches no property/);
  });
});

describe('run --dry-run', () => {
  it('prints every unit and their count within 80 columns, and leaves what hello settles open', async () => {
    const r = await cliWith(['run', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    const count = Number(/^dry run: (\d+) units/.exec(r.stdout)![1]);
    const planned = planUnits({ implementations: builtinImplementations(), properties: allProperties(), withoutHello: true });
    expect(count).toBe(planned.length);
    expect(r.stdout.split('\n').filter((l) => /^ {2}[a-z][\w.-]* +\S+ × \S+/.test(l))).toHaveLength(count);
    expect(widest(r.stdout)).toBeLessThanOrEqual(80);
    // A driver property on drivers: open until hello; a seed one on a fixed-message server: n/a now.
    expect(r.stdout).toMatch(/^ {2}fd\.same-description +c-reference × ts-native +\(hello decides\)$/m);
    expect(r.stdout).toMatch(/^ {2}delivery\.payload +c-original × c-reference +n\/a: server c-original\n? +lacks payload$/m);
    expect(r.stdout).toMatch(/(\d+) apply as declared, (\d+) are unsupported as declared \(n\/a\), and for\s+(\d+)\s+\("hello decides"\)\s+the\s+drivers' hello answers/);
  });

  it('starts no process: a subject whose every command leaves a mark leaves none', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const mark = join(dir.path, 'started');
      const touch = ['/bin/sh', '-c', `echo "$0" >> '${mark}'`];
      writeFileSync(join(dir.path, 'm.json'), JSON.stringify({ name: 'marker', server: { command: [...touch, '{path}'] }, client: { command: [...touch, '{path}'] }, driver: { command: touch } }));
      const r = await cliWith(['run', '--dry-run', '--subject', join(dir.path, 'm.json'), '--subjects-only', '--property', 'delivery.default-message', '--property', 'fd.same-description']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^ {2}delivery\.default-message +marker × c-reference$/m);
      expect(r.stdout).toMatch(/^ {2}fd\.same-description +marker × ts-net +\(hello decides\)$/m);
      expect(existsSync(mark)).toBe(false);
      // The same manifest in a real run does start it (the mark is a real test of starting).
      await cliWith(['run', '--runs', '1', '--subject', join(dir.path, 'm.json'), '--subjects-only', '--property', 'delivery.default-message', '--server', 'marker', '--client', 'c-reference', '--out', join(dir.path, 'out')]);
      expect(existsSync(mark)).toBe(true);
    } finally {
      await dir.cleanup();
    }
  });

  it('counts exactly the units a run with the same selection runs, --exclude and --exclude-pairing included', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const selection = ['--property', 'delivery.*', '--property', 'connect.*', '--exclude', 'delivery.default-message', '--server', 'c-reference', '--server', 'c-original', '--exclude-pairing', 'c-reference×c-original', '--exclude-pairing=-xts-net'];
      const dry = await cliWith(['run', '--dry-run', ...selection]);
      expect(dry.exitCode, dry.stderr).toBe(0);
      expect(dry.stdout).not.toMatch(/delivery\.default-message|c-reference × c-original|- × ts-net/);
      const count = Number(/^dry run: (\d+) units/.exec(dry.stdout)![1]);
      const run = await cliWith(['run', '--runs', '2', '--seed', '1', '--no-shrink', ...selection, '--out', join(dir.path, 'out')], { COLUMNS: '80' });
      expect(run.exitCode, run.stderr).toBe(0);
      const report = JSON.parse(await readFile(join(dir.path, 'out', 'results.json'), 'utf8')) as RunReport;
      expect(report.results).toHaveLength(count);
      expect(report.results.some((x) => x.property === 'delivery.default-message' || (x.server === 'c-reference' && x.client === 'c-original') || (x.server === '-' && x.client === 'ts-net'))).toBe(false);
      expect(report.results.some((x) => x.server === '-' && x.client === 'c-reference')).toBe(true);
      expect(report.properties.map((p) => p.id)).not.toContain('delivery.default-message');
      expect(widest(run.stdout)).toBeLessThanOrEqual(80);
    } finally {
      await dir.cleanup();
    }
  });

  it.each([
    [['run', '--exclude', 'nothing.*'], /--exclude nothing\.\*: matches no property/],
    [['run', '--exclude-pairing', 'c-reference'], /--exclude-pairing must look like SERVER×CLIENT/],
    [['run', '--exclude-pairing', 'nope×c-reference'], /--exclude-pairing nope×c-reference: "nope" matches no implementation/],
    [['replay', '--dry-run'], /--dry-run is only for run/],
    [['replay', '--exclude', 'fd.*'], /--exclude and --exclude-pairing are only for run/],
  ])('%j exits 2 naming the flag', async (args, message) => {
    const r = await cliWith(args);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('reads SERVER×CLIENT, SERVERxCLIENT where only one split names implementations, and refuses an ambiguous x', () => {
    const names = ['a', 'ax', 'b', 'xb', 'c-reference', 'ts-net'];
    expect(parsePairingPattern('c-reference×ts-net', names)).toEqual({ server: 'c-reference', client: 'ts-net' });
    expect(parsePairingPattern('c-reference x ts-*', names)).toEqual({ server: 'c-reference', client: 'ts-*' });
    expect(parsePairingPattern('-xts-net', names)).toEqual({ server: '-', client: 'ts-net' });
    expect(parsePairingPattern('axb×b', names)).toMatch(/"axb" matches no implementation/);
    expect(parsePairingPattern('axxb', names)).toMatch(/ambiguous \(a×xb or ax×b\); write × between the two/);
    expect(parsePairingPattern('xb', names)).toMatch(/must look like SERVER×CLIENT/);
  });
});

describe('the report on stdout', () => {
  it('fits COLUMNS and colours only when asked (FORCE_COLOR), never with NO_COLOR', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const out = join(dir.path, 'out');
      const args = ['run', '--runs', '2', '--seed', '3', '--property', 'delivery.*', '--property', 'path.forms', '--server', 'c-reference', '--server', 'c-original', '--out', out];
      const first = await cliWith(args, { COLUMNS: '120' });
      expect(first.exitCode, first.stderr).toBe(0);
      expect(widest(first.stdout)).toBeLessThanOrEqual(120);
      // A pipe: no colour.
      expect(first.stdout).not.toMatch(/\x1b\[/);
      const from = join(dir.path, 'results.json');
      writeFileSync(from, readFileSync(join(out, 'results.json')));
      const forced = await cliWith(['report', '--from', from, '--out', join(dir.path, 'o2')], { COLUMNS: '80', FORCE_COLOR: '1' });
      expect(forced.stdout).toMatch(/\x1b\[32mok\x1b\[39m/);
      expect(widest(forced.stdout)).toBeLessThanOrEqual(80);
      const off = await cliWith(['report', '--from', from, '--out', join(dir.path, 'o3')], { COLUMNS: '80', FORCE_COLOR: '1', NO_COLOR: '1' });
      expect(off.stdout).not.toMatch(/\x1b\[/);
      expect(off.stdout).toBe(stripVTControlCharacters(forced.stdout).replaceAll(join(dir.path, 'o2'), join(dir.path, 'o3')));
    } finally {
      await dir.cleanup();
    }
  });
});
