/**
 * `compare BASE.json HEAD.json`: two real runs through runSuite of a subject named `my-server`, once the
 * C reference's server and once the mutant that sends the default message without its newline; compare
 * must list exactly the cell that changed (and nothing of the cells that did not), exit 1 for the
 * regression and 0 the other way round; compare.json matches docs/compare.schema.json (ajv); edited
 * copies add and remove cells; a bad file exits 2 naming the file and the field.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import type { Implementation } from '../suite/model/types.js';
import { allProperties } from '../suite/properties/index.js';
import { cReference } from '../suite/registry.js';
import { compareReports, renderCompareMarkdown, renderCompareText, type Comparison } from '../suite/report/compare.js';
import { caseKey } from '../suite/report/merge.js';
import { summarize, type RunReport } from '../suite/report/results.js';
import { writeReports } from '../suite/report/write.js';
import { runSuite } from '../suite/run.js';
import { cli } from './support/cli.js';

const SUBJECT = 'my-server';
const PROPERTIES = ['delivery.default-message', 'eof.exit-zero', 'connect.enoent'];

const validateCompare = new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(join(PROJECT_ROOT, 'docs', 'compare.schema.json'), 'utf8')) as object);
function expectValidCompare(doc: unknown): void {
  const ok = validateCompare(doc);
  expect(validateCompare.errors ?? [], JSON.stringify(validateCompare.errors)).toEqual([]);
  expect(ok).toBe(true);
}

async function runWith(server: Implementation): Promise<RunReport> {
  return runSuite({ implementations: [cReference, server], properties: allProperties(), propertyPatterns: PROPERTIES, servers: [SUBJECT], clients: ['c-reference'], runs: 2, seed: 7, jobs: 2 });
}

describe('compare on two real runs', () => {
  let dir: DirectoryResult;
  let base: RunReport;
  let head: RunReport;
  let baseFile: string;
  let headFile: string;

  beforeAll(async () => {
    dir = await tmpDir({ unsafeCleanup: true });
    const good: Implementation = { name: SUBJECT, kind: 'command', description: 'the reference server, as a subject', server: cReference.server, expectations: {} };
    const mutant = mutants().find((m) => m.implementation.name === 'mutant-server-wrong-default')!;
    const broken: Implementation = { ...mutant.implementation, name: SUBJECT };
    base = await runWith(good);
    head = await runWith(broken);
    baseFile = (await writeReports(base, join(dir.path, 'base'))).results;
    headFile = (await writeReports(head, join(dir.path, 'head'))).results;
  }, 120_000);
  afterAll(async () => {
    await dir?.cleanup();
  });

  it('the two runs differ in exactly one cell, and in more than one unchanged one', () => {
    const changed = head.results.filter((h) => base.results.find((b) => caseKey(b) === caseKey(h))?.status !== h.status);
    expect(changed.map(caseKey)).toEqual([`delivery.default-message ${SUBJECT} × c-reference`]);
    expect(head.results.length).toBeGreaterThan(2);
  });

  it('lists exactly the cell that changed as newly failing, with its requirement, evidence and replay, and regresses', () => {
    const cmp = compareReports({ file: baseFile, report: base }, { file: headFile, report: head }, '0.0.0');
    expectValidCompare(cmp);
    expect(cmp.regressed).toBe(true);
    expect(cmp.cells.map((c) => [c.change, c.case, c.server, c.client, c.base?.status, c.head?.status])).toEqual([
      ['newly-failing', 'delivery.default-message', SUBJECT, 'c-reference', 'pass', 'fail'],
    ]);
    expect(cmp.counts).toEqual({ 'newly-failing': 1, 'newly-passing': 0, changed: 0, added: 0, removed: 0, unchanged: head.results.length - 1, regressions: 1 });
    expect(cmp.properties.map((p) => [p.id, p.regressions, p.head.fail])).toEqual([['delivery.default-message', 1, 1]]);
    const md = renderCompareMarkdown(cmp);
    expect(md.split('\n')[0]).toBe('## uds-conformance compare: ❌ 1 regression');
    const failing = head.results.find((r) => r.status === 'fail')!;
    const regressions = md.indexOf('### Regressions (1)');
    expect(regressions).toBeGreaterThan(0);
    expect(md.indexOf(failing.message!.slice(0, 20))).toBeGreaterThan(regressions);
    expect(md).toContain(`requirement: ${head.properties.find((p) => p.id === 'delivery.default-message')!.requirement.slice(0, 30)}`);
    expect(md).toContain(`replay: \`${failing.replay}\``);
    expect(md).toContain('expected `');
    expect(renderCompareText(cmp)).toMatch(/^NEW FAIL {2}delivery\.default-message {2}my-server × c-reference {2}pass → FAIL {2}\(MUST\)$/m);
  });

  it('the other way round, the cell is newly passing and nothing regressed', () => {
    const cmp = compareReports({ file: headFile, report: head }, { file: baseFile, report: base }, '0.0.0');
    expectValidCompare(cmp);
    expect(cmp.regressed).toBe(false);
    expect(cmp.cells.map((c) => [c.change, c.case])).toEqual([['newly-passing', 'delivery.default-message']]);
    expect(renderCompareMarkdown(cmp).split('\n')[0]).toBe('## uds-conformance compare: ✅ no regression');
  });

  it('tells cells added and removed, and calls an added unexpected cell a regression', () => {
    const dropped = head.results.find((r) => r.property === 'eof.exit-zero')!;
    const added = { ...dropped, property: 'extra.thing', status: 'error' as const, message: 'harness error: boom' };
    const results = [...head.results.filter((r) => r !== dropped), added];
    const edited: RunReport = {
      ...head,
      properties: [...head.properties, { id: 'extra.thing', level: 'SHOULD', category: 'misc', scope: 'pairing', requirement: 'a new one', reference: 'here', socketTypes: ['stream'], addresses: ['pathname'] }],
      results,
      summary: summarize(results),
    };
    const cmp = compareReports({ file: baseFile, report: base }, { file: 'edited.json', report: edited }, '0.0.0');
    expectValidCompare(cmp);
    // Regressions first: the added harness error (a SHOULD property: still a regression), then the newly failing cell.
    expect(cmp.cells.map((c) => [c.change, c.regression, c.case])).toEqual([
      ['newly-failing', true, 'delivery.default-message'],
      ['added', true, 'extra.thing'],
      ['removed', false, 'eof.exit-zero'],
    ]);
    expect(cmp.properties.find((p) => p.id === 'extra.thing')).toMatchObject({ in: 'head', regressions: 1, level: 'SHOULD' });
    expect(cmp.counts.regressions).toBe(2);
  });

  it('the CLI writes compare.md and compare.json into --out, exits 1 on the regression and 0 without, 2 on a bad file', async () => {
    const out = join(dir.path, 'cmp');
    const r = await cli(['compare', baseFile, headFile, '--out', out]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toContain('NEW FAIL  delivery.default-message  my-server × c-reference  pass → FAIL');
    expect(r.stdout).toContain(`compare: ${join(out, 'compare.json')}, ${join(out, 'compare.md')}`);
    const json = JSON.parse(await readFile(join(out, 'compare.json'), 'utf8')) as Comparison;
    expectValidCompare(json);
    expect(json.cells).toHaveLength(1);
    expect(await readFile(join(out, 'compare.md'), 'utf8')).toContain('### Regressions (1)');

    const back = await cli(['compare', headFile, baseFile, '--out', out]);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toContain('NEW PASS  delivery.default-message');

    const same = await cli(['compare', baseFile, baseFile, '--out', out]);
    expect(same.exitCode, same.stderr).toBe(0);
    expect(same.stdout).toContain('no regression: 0 newly failing, 0 newly passing');

    const bad = JSON.parse(await readFile(headFile, 'utf8')) as { results: Array<{ status: string }> };
    bad.results[1]!.status = 'sort-of';
    const badFile = join(dir.path, 'bad.json');
    await writeFile(badFile, JSON.stringify(bad));
    const refused = await cli(['compare', baseFile, badFile, '--out', out]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain(`${badFile}: results[1].status: expected one of`);

    const one = await cli(['compare', baseFile]);
    expect(one.exitCode).toBe(2);
    expect(one.stderr).toContain('compare needs two results.json files');
  }, 60_000);
});

describe('docs/compare.schema.json', () => {
  it('refuses what compare never writes', () => {
    const cell = { change: 'added', regression: true, property: 'p', case: 'p', server: 'a', client: 'b', socketType: 'stream', address: 'pathname', level: 'MUST', head: { status: 'fail' } };
    const doc = (cells: unknown[]): unknown => ({
      schemaVersion: 1, tool: { name: 'uds-conformance', version: '0' }, regressed: true, notes: [], properties: [],
      base: { file: 'a', seed: 1, runs: 1, startedAt: 'x', toolVersion: '0', results: 0, summary: { pass: 0, fail: 0, 'expected-fail': 0, 'unexpected-pass': 0, unsupported: 0, error: 0 } },
      head: { file: 'b', seed: 1, runs: 1, startedAt: 'x', toolVersion: '0', results: 1, summary: { pass: 0, fail: 1, 'expected-fail': 0, 'unexpected-pass': 0, unsupported: 0, error: 0 } },
      counts: { 'newly-failing': 0, 'newly-passing': 0, changed: 0, added: 1, removed: 0, unchanged: 0, regressions: 1 },
      cells,
    });
    expectValidCompare(doc([cell]));
    // An added cell has no BASE side; a changed one needs both; a status is one of the six.
    for (const bad of [{ ...cell, base: { status: 'pass' } }, { ...cell, change: 'changed' }, { ...cell, head: { status: 'meh' } }]) {
      expect(validateCompare(doc([bad]))).toBe(false);
    }
  });
});
