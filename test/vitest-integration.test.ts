/**
 * `uds-conformance/vitest` (suite/vitest.ts) and the worked example of docs/adapters.md.
 *
 * - The example's own vitest file (fixtures/examples/net-adapter.conformance.test.ts) is imported
 *   here, so its conformance() tests are registered and run in this file: they must pass.
 * - The outcomes a user can meet are seen from outside, in a vitest of its own (a child process, with
 *   fixtures/examples/vitest.config.ts and a reporter that writes every test case's outcome as JSON):
 *   a broken variant of the adapter fails its registered test with the suite's evidence and replay
 *   line; a stale expectation fails as an unexpected pass; an unsupported property is skipped with
 *   its reason; a known failure passes with an annotation; the timeout option reaches vitest.
 * - vitest's -t filter selects by property id, and --shard splits by file.
 * - docs/adapters.md shows the example's files verbatim.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { createNetAdapter } from '../fixtures/examples/net-adapter.js';
import { defineSubject } from '../suite/index.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { allProperties } from '../suite/properties/index.js';
import { conformanceTests, timePlan } from '../suite/vitest.js';
import { leftoversOf, nothingLeft } from './support/leftovers.js';
// The worked example's conformance() tests, registered in this file.
import '../fixtures/examples/net-adapter.conformance.test.js';

const EXAMPLES = join(PROJECT_ROOT, 'fixtures', 'examples');
const VITEST_CLI = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

interface Outcome {
  module: string;
  name: string;
  state: 'passed' | 'failed' | 'skipped' | 'pending';
  note: string | null;
  errors: string[];
  annotations: Array<{ type: string; message: string }>;
  timeout: number | null;
}

/** Runs vitest on files of fixtures/examples in a child process; every test case's outcome. */
async function runVitest(args: string[]): Promise<{ exitCode: number | undefined; outcomes: Outcome[]; pids: number[]; output: string }> {
  const dir = mkdtempSync(join(os.tmpdir(), 'vitest-integration-'));
  try {
    // Not this worker's own vitest variables: the child is a vitest run of its own.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST' && k !== 'NODE_ENV'));
    const outcomesFile = join(dir, 'outcomes.json');
    const pidsFile = join(dir, 'pids');
    const run = await execa(process.execPath, [VITEST_CLI, 'run', '--config', join(EXAMPLES, 'vitest.config.ts'), '--reporter', join(EXAMPLES, 'outcomes-reporter.ts'), ...args], {
      cwd: PROJECT_ROOT,
      env: { ...env, OUTCOMES_FILE: outcomesFile, OUTCOMES_PIDS: pidsFile },
      extendEnv: false,
      reject: false,
      all: true,
      timeout: 120_000,
    });
    const read = (file: string): string => {
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return '';
      }
    };
    const json = read(outcomesFile);
    if (!json) throw new Error(`vitest wrote no outcomes (exit ${run.exitCode}):\n${run.all}`);
    return { exitCode: run.exitCode, outcomes: JSON.parse(json) as Outcome[], pids: read(pidsFile).split('\n').filter(Boolean).map(Number), output: run.all ?? '' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const byName = (outcomes: Outcome[], name: string): Outcome => {
  const found = outcomes.find((o) => o.name === name);
  if (!found) throw new Error(`no test ${JSON.stringify(name)} among ${outcomes.map((o) => o.name).join(', ')}`);
  return found;
};

afterAll(() => {
  // The imported conformance() tests ran their in-process adapters and c-reference drivers here.
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

describe('conformanceTests: one test per property × pairing the subject can take part in', () => {
  const driverProperties = allProperties().filter((p) => p.via === 'driver');

  it('a driver playing both roles: as server, as client, and against itself, for every driver property and no seed one', () => {
    const subject = defineSubject({ name: 'net-example', driver: { adapter: createNetAdapter } });
    const tests = conformanceTests(subject);
    const halfClose = tests.filter((t) => t.property === 'stream.half-close').map((t) => t.name);
    expect(halfClose).toEqual(['stream.half-close · net-example × net-example', 'stream.half-close · net-example × c-reference', 'stream.half-close · c-reference × net-example']);
    // A server-scoped property has the subject as server only, the client side absent.
    expect(tests.filter((t) => t.property === 'abstract.released').map((t) => t.name)).toEqual(['abstract.released · net-example × -']);
    expect(new Set(tests.map((t) => t.property))).toEqual(new Set(driverProperties.map((p) => p.id)));
    expect(tests.every((t) => t.server === 'net-example' || t.client === 'net-example')).toBe(true);
  });

  it('a driver for one role gets only the pairings it can play', () => {
    const client = conformanceTests(defineSubject({ name: 'only-client', driver: { adapter: createNetAdapter, roles: ['client'] } }), { properties: ['stream.*'] });
    expect(client.length).toBeGreaterThan(0);
    expect(client.every((t) => t.server === 'c-reference' && t.client === 'only-client')).toBe(true);
    expect(client.every((t) => t.property.startsWith('stream.'))).toBe(true);
  });

  it('a seed-protocol server: paired with the c-reference client, alone for its server-only properties, nothing client-only', () => {
    const subject = defineSubject({ name: 'seed-server', server: { command: ['cat', '{payload}'], payloadRequired: true } });
    const tests = conformanceTests(subject, { properties: ['delivery.payload', 'cleanup.path-removed', 'connect.enoent'] });
    expect(tests.map((t) => t.name)).toEqual(['delivery.payload · seed-server × c-reference', 'cleanup.path-removed · seed-server × -']);
  });

  it('refuses a subject named as the oracle', () => {
    const subject = defineSubject({ name: 'c-reference-like', driver: { adapter: createNetAdapter } });
    subject.implementation.name = 'c-reference';
    expect(() => conformanceTests(subject)).toThrow(/cannot be named c-reference/);
  });

  it('fits a test into its timeout: case deadline, unit budget, blame re-runs, cancellation', () => {
    expect(timePlan(300_000)).toEqual({ caseDeadlineMs: 15_000, unitBudgetMs: 60_000, blameReruns: 4, cancelAtMs: 270_000 });
    const short = timePlan(30_000);
    expect(short).toEqual({ caseDeadlineMs: 3000, unitBudgetMs: 12_000, blameReruns: 2, cancelAtMs: 27_000 });
    // Shrinking and blame (each re-run up to a case deadline, per role) end before the cancellation.
    expect(short.unitBudgetMs + short.caseDeadlineMs + short.blameReruns * 2 * short.caseDeadlineMs).toBeLessThanOrEqual(short.cancelAtMs);
  });
});

describe('conformance() seen from a vitest run of its own', () => {
  it('fails a broken adapter with the evidence and replay line, fails a stale expectation, skips with the reason, passes a known failure noted', async () => {
    const run = await runVitest(['outcomes.test.ts']);
    expect(run.exitCode, run.output).toBe(1);
    const names = run.outcomes.map((o) => o.name);
    expect(names).toEqual([
      'corrupting > stream.half-close · c-reference × net-corrupting',
      // In the property list's order.
      'known > path.embedded-nul · net-known × c-reference',
      'known > fd.kinds · net-known × c-reference',
      'known > stream.half-close · net-known × c-reference',
    ]);
    expect(run.outcomes.every((o) => o.timeout === 30_000)).toBe(true);

    const broken = byName(run.outcomes, 'corrupting > stream.half-close · c-reference × net-corrupting');
    expect(broken.state).toBe('failed');
    const message = broken.errors.join('\n');
    // The terminal reporter's details: the requirement, expected against actual, blame, the replay line.
    expect(message).toMatch(/^Unexpected results \(1\):\n\nFAIL {2}stream\.half-close {2}c-reference × net-corrupting {2}\(MUST\)/);
    expect(message).toContain('requirement: After shutdown(SHUT_WR)');
    expect(message).toMatch(/expected: @0: "."\n {2}actual: {3}@0: "\\x[0-9a-f]{2}"/);
    expect(message).toMatch(/blame: client/);
    expect(message).toMatch(/replay: npx uds-conformance replay --property stream\.half-close --server c-reference --client net-corrupting --seed \d+ --path [\d:]+/);
    expect(message).toContain('replay under vitest (the replay line above needs a manifest file; this subject is defined in code): (seed 1 is fixed in the options) npx vitest run <this file> -t "stream.half-close · c-reference × net-corrupting"');

    const stale = byName(run.outcomes, 'known > stream.half-close · net-known × c-reference');
    expect(stale.state).toBe('failed');
    expect(stale.errors.join('\n')).toMatch(/XPASS {2}stream\.half-close {2}net-known × c-reference[\s\S]*known failure did not happen: a stale expectation/);

    const unsupported = byName(run.outcomes, 'known > fd.kinds · net-known × c-reference');
    expect(unsupported).toMatchObject({ state: 'skipped', note: "unsupported: stream · pathname: server net-known's driver does not pass fds (its hello answer)" });

    const known = byName(run.outcomes, 'known > path.embedded-nul · net-known × c-reference');
    expect(known.state).toBe('passed');
    expect(known.annotations).toEqual([{ type: 'notice', message: expect.stringMatching(/^expected failure \(stream · pathname\): listen at .* \(known: node:net cuts a path at its NUL\)$/) }]);

    expect(run.pids.length).toBe(1);
    for (const pid of run.pids) expect(nothingLeft(leftoversOf(pid)), JSON.stringify(leftoversOf(pid))).toBe(true);
  });

  it('-t selects tests by property id; --shard gives each file to one shard', async () => {
    const files = ['net-adapter.conformance.test.ts', 'outcomes.test.ts'];
    const shards = [await runVitest([...files, '--shard=1/2', '-t', 'stream\\.half-close']), await runVitest([...files, '--shard=2/2', '-t', 'stream\\.half-close'])];
    const modules = shards.map((s) => [...new Set(s.outcomes.map((o) => o.module.split('/').pop()))]);
    expect(modules.map((m) => m.length)).toEqual([1, 1]);
    expect(modules.flat().sort()).toEqual([...files].sort());
    const example = shards.find((s) => s.outcomes.some((o) => o.module.endsWith(files[0]!)))!;
    const ran = example.outcomes.filter((o) => o.state !== 'skipped' || o.note !== null);
    expect(ran.map((o) => [o.name, o.state])).toEqual([
      ['net-example > stream.half-close · net-example × net-example', 'passed'],
      ['net-example > stream.half-close · net-example × c-reference', 'passed'],
      ['net-example > stream.half-close · c-reference × net-example', 'passed'],
    ]);
    // The rest were filtered out by vitest, not run and skipped by the suite (which gives a note).
    expect(example.outcomes.length).toBe(conformanceTests(defineSubject({ name: 'net-example', driver: { adapter: createNetAdapter } })).length);
  });
});

describe('docs/adapters.md', () => {
  /** What a user writes in place of the repository's relative imports: the package's entries. */
  const asPublished = (source: string): string =>
    source.replaceAll("'../../suite/adapter.js'", "'uds-conformance/adapter'").replaceAll("'../../suite/index.js'", "'uds-conformance'").replaceAll("'../../suite/vitest.js'", "'uds-conformance/vitest'");

  it.each(['fixtures/examples/net-adapter.ts', 'fixtures/examples/net-adapter.conformance.test.ts'])('shows %s verbatim (with the package imports)', (file) => {
    const doc = readFileSync(join(PROJECT_ROOT, 'docs', 'adapters.md'), 'utf8');
    const marker = `<!-- ${file} -->`;
    const at = doc.indexOf(marker);
    expect(at, `docs/adapters.md has no ${marker} before a code block`).toBeGreaterThanOrEqual(0);
    const block = /^```ts\n([\s\S]*?)^```$/m.exec(doc.slice(at + marker.length));
    expect(block?.[1]).toBe(asPublished(readFileSync(join(PROJECT_ROOT, file), 'utf8')));
  });
});
