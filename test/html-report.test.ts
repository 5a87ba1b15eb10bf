/**
 * index.html in a real browser: Debian's chromium, headless, driven by playwright-core (never a browser
 * download). A small real run with c-original's expected failure; the matrix must show one cell per
 * pairing with its worst status, and a click on the expected-fail cell must show its counterexample and
 * its replay command; the socket type and address filters narrow the matrix and the case list; a
 * failing sequence shows both transcripts side by side with its first differing step marked; the
 * unexpected results are listed at the top and open their result; the property × pairing grid shows one
 * cell per case and pairing under the same filters; n/a cases are collapsed; counts are singular at 1.
 * Without chromium the test is skipped, except under CI=true, where it must run.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { dir as tmpDir, type DirectoryResult } from 'tmp-promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkShape } from '../suite/model/shape.js';
import { caseLabel, worstStatus } from '../suite/report/common.js';
import { renderHtml } from '../suite/report/html.js';
import { summarize, type RunReport } from '../suite/report/results.js';
import type { ResultEntry } from '../suite/model/types.js';
import { cli } from './support/cli.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const available = existsSync(CHROMIUM);
const mustRun = process.env.CI === 'true';
if (!available && !mustRun) {
  console.warn(`html-report.test.ts: skipped: ${CHROMIUM} is missing (apt-get install chromium); with CI=true this test runs and fails instead`);
}

describe.skipIf(!available && !mustRun)('index.html in headless Chromium', () => {
  let out: DirectoryResult;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  let report: RunReport;
  const pageErrors: string[] = [];
  const requests: string[] = [];

  beforeAll(async () => {
    out = await tmpDir({ unsafeCleanup: true });
    // Pairings with c-original's client fail delivery.payload (expected); the others pass, and
    // connect.enoent adds the client-only row ("-" as the server).
    const r = await cli(['run', '--runs', '3', '--seed', '99', '--out', out.path, '--property', 'delivery.payload', '--property', 'delivery.default-message', '--property', 'connect.enoent',
      '--server', 'c-reference', '--server', 'ts-net', '--client', 'c-original', '--client', 'c-reference']);
    expect(r.exitCode, r.stderr).toBe(0);
    // What the run wrote matches docs/results.schema.json.
    report = checkShape<RunReport>('results', JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')));
    if (!available) throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium package`);
    profile = await mkdtemp(join(os.tmpdir(), 'uds-conformance-chromium-'));
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, timeout: 60_000 });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(pathToFileURL(join(out.path, 'index.html')).href);
    await page.waitForSelector('body[data-ready="true"]');
  });

  afterAll(async () => {
    await context?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
    await out?.cleanup();
  });

  it('renders one cell per pairing, each with its worst status, and no request leaves the file', async () => {
    const expected = new Map<string, string>();
    for (const key of new Set(report.results.map((r) => `${r.server}|${r.client}`))) {
      const [s, c] = key.split('|');
      expected.set(key, worstStatus(report.results.filter((r) => r.server === s && r.client === c).map((r) => r.status))!);
    }
    // 2 servers × 2 clients, and "-" × each client for connect.enoent.
    expect(expected.size).toBe(6);
    const cells = await page.$$eval('td.cell', (tds) => tds.map((td) => [`${td.dataset.server}|${td.dataset.client}`, td.dataset.status!] as const));
    expect(new Map(cells)).toEqual(expected);
    expect(cells).toHaveLength(6);
    expect([...expected.values()].filter((s) => s === 'expected-fail')).toHaveLength(2);
    expect(await page.locator('table.matrix tbody tr').count()).toBe(3);
    expect(await page.locator('table.matrix thead th').allInnerTexts()).toEqual(['server ╲ client', 'c-original', 'c-reference']);
    // The colour comes from the status.
    const bg = await page.locator('td.cell[data-status="expected-fail"]').first().evaluate((td) => getComputedStyle(td).backgroundColor);
    const passBg = await page.locator('td.cell[data-status="pass"]').first().evaluate((td) => getComputedStyle(td).backgroundColor);
    expect(bg).not.toBe(passBg);
    expect(await page.locator('.card').count()).toBe(3);
    await expect.poll(() => page.locator('.card[data-implementation="c-original"] .num').first().innerText()).toBe('2/3');
    expect(pageErrors).toEqual([]);
    expect(requests.filter((u) => !u.startsWith('file:') && !u.startsWith('data:'))).toEqual([]);
  });

  it('shows the counterexample, the highlighted first difference and the replay command of a clicked expected-fail cell', async () => {
    const failing = report.results.find((r) => r.status === 'expected-fail' && r.server === 'c-reference')!;
    await page.click(`td.cell[data-server="${failing.server}"][data-client="${failing.client}"]`);
    const item = page.locator(`#detail .result[data-property="${failing.property}"]`);
    await item.waitFor();
    expect(await item.getAttribute('data-case')).toBe(caseLabel(failing));
    expect(await item.getAttribute('data-status')).toBe('expected-fail');
    const ce = item.locator('.counterexample');
    expect(await ce.isVisible()).toBe(true);
    expect(await ce.innerText()).toContain(`seed ${failing.counterexample!.seed}, path ${failing.counterexample!.path}`);
    expect(await ce.innerText()).toContain('"length": 1');
    expect(await item.locator('.replay').innerText()).toBe(failing.replay);
    expect(await item.locator('.replay').isVisible()).toBe(true);
    // The byte at the first differing offset is highlighted in the expected bytes.
    expect(await item.locator('.bytes .b.diff').first().innerText()).toBe('00');
    expect(await page.locator('#detail').innerText()).toContain(report.properties.find((p) => p.id === failing.property)!.requirement);
    expect(pageErrors).toEqual([]);
  });

  it('filters by status and level', async () => {
    const cell = page.locator('td.cell[data-server="c-reference"][data-client="c-original"]');
    expect(await cell.getAttribute('data-status')).toBe('expected-fail');
    await page.locator('input[data-filter="status"][value="expected-fail"]').uncheck();
    expect(await cell.getAttribute('data-status')).toBe('pass');
    await page.locator('input[data-filter="status"][value="expected-fail"]').check();
    await page.locator('input[data-filter="level"][value="MUST"]').uncheck();
    expect(await cell.getAttribute('data-status')).toBe('filtered');
    await page.locator('input[data-filter="level"][value="MUST"]').check();
    expect(await cell.getAttribute('data-status')).toBe('expected-fail');
  });

  it('lists the cases of a property on other socket types and address kinds by their case labels, in run order', async () => {
    const v = (socketType: ResultEntry['socketType'], address: ResultEntry['address'], status: ResultEntry['status']): ResultEntry =>
      ({ server: 'a', client: 'b', property: 'fd.identity', socketType, address, status, runs: 1, durationMs: 1 });
    const results = [v('seqpacket', 'abstract', 'unsupported'), v('seqpacket', 'pathname', 'fail'), v('stream', 'pathname', 'pass'), v('stream', 'abstract', 'pass')];
    const variants: RunReport = {
      ...report,
      implementations: [],
      properties: [{ id: 'fd.identity', level: 'MUST', category: 'fd', scope: 'pairing', requirement: 'same fd', reference: 'unix(7)', socketTypes: ['stream', 'seqpacket'], addresses: ['pathname', 'abstract'] }],
      results,
      summary: summarize(results),
    };
    const file = join(out.path, 'variants.html');
    await writeFile(file, renderHtml(variants));
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    await p.goto(pathToFileURL(file).href);
    await p.waitForSelector('body[data-ready="true"]');
    const cell = p.locator('td.cell[data-server="a"][data-client="b"]');
    expect(await cell.getAttribute('data-status')).toBe('fail');
    await cell.click();
    await p.locator('#detail .result').first().waitFor();
    const inRunOrder = ['fd.identity', 'fd.identity [abstract]', 'fd.identity [seqpacket]', 'fd.identity [seqpacket, abstract]'];
    expect(await p.locator('#detail .result').evaluateAll((ds) => ds.map((d) => d.getAttribute('data-case')))).toEqual(inRunOrder);
    expect(await p.locator('#detail .result summary code').evaluateAll((cs) => cs.map((c) => c.textContent))).toEqual(inRunOrder);
    expect(new Set(results.map(caseLabel))).toEqual(new Set(inRunOrder));
    // The case that does not apply is in the collapsed n/a group, after those that do.
    const na = p.locator('#detail details.na-group');
    expect(await na.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    expect(await na.locator('.result').evaluateAll((ds) => ds.map((d) => d.getAttribute('data-case')))).toEqual(['fd.identity [seqpacket, abstract]']);
    expect(await na.locator('summary').first().innerText()).toBe('n/a: 1 case that does not apply to this pairing');
    await p.close();
    expect(pageErrors).toEqual([]);
  });

  it('filters the matrix and the case list by socket type and address kind, and names both in each result', async () => {
    const on = (client: string, property: string, socketType: ResultEntry['socketType'], address: ResultEntry['address'], status: ResultEntry['status']): ResultEntry =>
      ({ server: 'a', client, property, socketType, address, status, runs: 1, durationMs: 1 });
    // a × b has a case in every group but dgram · abstract; a × c only stream and seqpacket cases.
    const results = [
      on('b', 'msg.size', 'stream', 'pathname', 'pass'),
      on('b', 'msg.size', 'seqpacket', 'pathname', 'fail'),
      on('b', 'msg.size', 'seqpacket', 'abstract', 'pass'),
      on('b', 'msg.size', 'dgram', 'pathname', 'expected-fail'),
      on('b', 'msg.size', 'stream', 'abstract', 'pass'),
      on('c', 'msg.size', 'stream', 'pathname', 'pass'),
      on('c', 'msg.size', 'seqpacket', 'abstract', 'fail'),
    ];
    const grouped: RunReport = {
      ...report,
      implementations: [],
      properties: [{ id: 'msg.size', level: 'MUST', category: 'messages', scope: 'pairing', requirement: 'EMSGSIZE', reference: 'unix(7)', socketTypes: ['stream', 'seqpacket', 'dgram'], addresses: ['pathname', 'abstract'] }],
      results,
      summary: summarize(results),
    };
    const file = join(out.path, 'grouped.html');
    await writeFile(file, renderHtml(grouped));
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    await p.goto(pathToFileURL(file).href);
    await p.waitForSelector('body[data-ready="true"]');
    // The filters offer the socket types and address kinds the results have, in the protocol order.
    expect(await p.locator('input[data-filter="socketType"]').evaluateAll((is) => is.map((i) => (i as HTMLInputElement).value))).toEqual(['stream', 'seqpacket', 'dgram']);
    expect(await p.locator('input[data-filter="address"]').evaluateAll((is) => is.map((i) => (i as HTMLInputElement).value))).toEqual(['pathname', 'abstract']);
    const ab = p.locator('td.cell[data-server="a"][data-client="b"]');
    const ac = p.locator('td.cell[data-server="a"][data-client="c"]');
    expect([await ab.getAttribute('data-status'), await ac.getAttribute('data-status')]).toEqual(['fail', 'fail']);
    await ab.click();
    const shown = () => p.locator('#detail .result').evaluateAll((ds) => ds.map((d) => `${d.getAttribute('data-socket-type')} · ${d.getAttribute('data-address')} ${d.getAttribute('data-status')}`));
    expect(await shown()).toHaveLength(5);
    // Each result names its socket type and address kind.
    const seqAbstract = p.locator('#detail .result[data-case="msg.size [seqpacket, abstract]"]');
    const fields = await seqAbstract.locator('dl.fields dt').evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(fields).toContainEqual(['socket type', 'seqpacket']);
    expect(fields).toContainEqual(['address', 'abstract']);
    expect(await seqAbstract.locator('summary .sub').innerText()).toContain('seqpacket \u00b7 abstract');

    // Only dgram: a × b shows its one dgram case; a × c has none left.
    await p.locator('input[data-filter="socketType"][value="stream"]').uncheck();
    await p.locator('input[data-filter="socketType"][value="seqpacket"]').uncheck();
    expect(await shown()).toEqual(['dgram · pathname expected-fail']);
    expect([await ab.getAttribute('data-status'), await ac.getAttribute('data-status')]).toEqual(['expected-fail', 'filtered']);
    // Seqpacket at abstract names only: the failures of both cells.
    await p.locator('input[data-filter="socketType"][value="dgram"]').uncheck();
    await p.locator('input[data-filter="socketType"][value="seqpacket"]').check();
    await p.locator('input[data-filter="address"][value="pathname"]').uncheck();
    expect(await shown()).toEqual(['seqpacket · abstract pass']);
    expect([await ab.getAttribute('data-status'), await ac.getAttribute('data-status')]).toEqual(['pass', 'fail']);
    await ac.click();
    expect(await shown()).toEqual(['seqpacket · abstract fail']);
    // Everything back.
    for (const v of ['stream', 'dgram']) await p.locator(`input[data-filter="socketType"][value="${v}"]`).check();
    await p.locator('input[data-filter="address"][value="pathname"]').check();
    expect(await shown()).toEqual(['stream · pathname pass', 'seqpacket · abstract fail']);
    await p.close();
    expect(pageErrors).toEqual([]);
  });

  it('lists the unexpected results at the top, and the grid view shows one cell per case and pairing, filtered as the matrix is; both open the result', async () => {
    const on = (server: string, client: string, property: string, status: ResultEntry['status'], extra: Partial<ResultEntry> = {}): ResultEntry =>
      ({ server, client, property, socketType: 'stream', address: 'pathname', status, runs: 1, durationMs: 1, ...extra });
    const bytes = { expectedLength: 1, actualLength: 0, expectedSha256: 'a'.repeat(64), actualSha256: 'b'.repeat(64), firstDifference: 0, expectedContext: '@0: "x"', actualContext: '@0: (no bytes)' };
    const results = [
      on('a', 'b', 'p.one', 'fail', { message: 'stdout differs', evidence: { message: 'stdout differs', expected: '@0: "x"', actual: '@0: (no bytes)', bytes } }),
      on('a', 'c', 'p.one', 'pass'),
      on('d', 'b', 'p.one', 'error', { message: 'harness error: boom' }),
      on('a', 'b', 'p.two', 'pass'),
      on('a', 'c', 'p.two', 'unsupported', { reason: 'c has no driver' }),
      on('d', 'b', 'p.two', 'expected-fail', { reason: 'known' }),
    ];
    const prop = (id: string, level: 'MUST' | 'SHOULD') => ({ id, level, category: 'misc', scope: 'pairing' as const, requirement: `${id} holds`, reference: 'here', socketTypes: ['stream' as const], addresses: ['pathname' as const] });
    const grid: RunReport = { ...report, implementations: [], properties: [prop('p.one', 'MUST'), prop('p.two', 'SHOULD')], results, summary: summarize(results) };
    const file = join(out.path, 'grid.html');
    await writeFile(file, renderHtml(grid));
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    await p.goto(pathToFileURL(file).href);
    await p.waitForSelector('body[data-ready="true"]');

    // The list, worst first, above the results.
    const items = p.locator('#unexpected li.unexpected-item');
    expect(await items.evaluateAll((ls) => ls.map((l) => `${l.getAttribute('data-status')} ${l.getAttribute('data-case')} ${l.getAttribute('data-server')}×${l.getAttribute('data-client')}`))).toEqual(['fail p.one a×b', 'error p.one d×b']);
    expect(await p.locator('#unexpected h2').innerText()).toBe('Unexpected results (2)');
    expect(await p.evaluate(() => document.getElementById('unexpected')!.compareDocumentPosition(document.getElementById('matrix')!) & Node.DOCUMENT_POSITION_FOLLOWING)).toBeTruthy();
    await items.nth(1).locator('a').click();
    const focused = p.locator('#detail .result.focused');
    expect(await focused.getAttribute('data-status')).toBe('error');
    expect(await focused.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    expect(await p.locator('td.cell.selected').getAttribute('data-server')).toBe('d');
    expect(await p.evaluate(() => decodeURIComponent(location.hash))).toBe('#d|b|p.one');

    // The grid: one row per case, one column per pairing, each cell its result's status.
    expect(await p.locator('#view-grid').isVisible()).toBe(false);
    await p.locator('input[data-view="grid"]').check();
    expect(await p.locator('#view-grid').isVisible()).toBe(true);
    expect(await p.locator('#view-matrix').isVisible()).toBe(false);
    expect(await p.locator('table.grid thead th.pairing').allInnerTexts()).toEqual(['a × b', 'a × c', 'd × b']);
    const rows = () => p.locator('table.grid tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-case'), ...[...tr.querySelectorAll('td')].map((td) => td.getAttribute('data-status'))]));
    expect(await rows()).toEqual([['p.one', 'fail', 'pass', 'error'], ['p.two', 'pass', 'unsupported', 'expected-fail']]);
    // The same filters: a status filtered out, a level hidden.
    await p.locator('input[data-filter="status"][value="fail"]').uncheck();
    expect(await rows()).toEqual([['p.one', 'filtered', 'pass', 'error'], ['p.two', 'pass', 'unsupported', 'expected-fail']]);
    await p.locator('input[data-filter="status"][value="fail"]').check();
    await p.locator('input[data-filter="level"][value="SHOULD"]').uncheck();
    expect(await rows()).toEqual([['p.one', 'fail', 'pass', 'error']]);
    await p.locator('input[data-filter="level"][value="SHOULD"]').check();
    // A click on an n/a cell opens its result inside the n/a group, which is otherwise collapsed.
    await p.locator('td.gcell[data-case="p.two"][data-server="a"][data-client="c"]').click();
    expect(await p.locator('#detail details.na-group').evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    expect(await p.locator('#detail .result.focused').getAttribute('data-case')).toBe('p.two');
    expect(await p.locator('#detail .result.focused').getAttribute('data-status')).toBe('unsupported');
    expect(await p.locator('td.gcell.selected').count()).toBe(1);

    // Back to the matrix; counts read right in the singular, and an empty output is "no output".
    await p.locator('input[data-view="matrix"]').check();
    await p.locator('td.cell[data-server="a"][data-client="b"]').click();
    const failing = p.locator('#detail .result[data-case="p.one"]');
    expect(await failing.locator('summary .sub').innerText()).toContain('\u00b7 1 run \u00b7');
    const fields = Object.fromEntries(await failing.locator('dl.fields dt').evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent])));
    expect(fields.timing).toBe('1 run in 1 ms');
    expect(fields.bytes).toBe('expected 1 byte (sha256 aaaaaaaaaaaa\u2026), got no output; first difference at offset 0');
    expect(fields.actual).toContain('no output');
    expect(await p.locator('#detail').innerText()).not.toMatch(/\b1 (runs|bytes)\b/);
    await p.close();
    expect(pageErrors).toEqual([]);
  });

  it('shows a failing sequence as two transcripts side by side, the first differing step highlighted and marked', async () => {
    const sequence = {
      commands: ['connect c1', 'accept s1', 'c1.send 3 bytes', 's1.recv 8 [MSG_DONTWAIT]', 'c1.close'],
      subject: { label: 'ts-net × c-reference', steps: ['ok', 'ok', 'ok sent 3', 'EAGAIN', 'not run'] },
      // An outcome holding markup and bytes: it must show as text.
      oracle: { label: 'c-reference × c-reference (kernel)', steps: ['ok', 'ok', 'ok sent 3', "data '<img src=x onerror=alert(1)>\x00' (3 bytes) flags []", 'ok'] },
      firstDifference: 3,
      equivalence: 'stream bytes as a concatenation up to each sync point',
    };
    const seq = (client: string, details: Record<string, unknown>): ResultEntry => ({
      server: 'a', client, property: 'sequence.equivalent', socketType: 'stream', address: 'pathname', status: 'fail', runs: 1, durationMs: 1,
      message: 'step 4 differs', evidence: { message: 'step 4 differs', details },
    });
    // a × b: the sequence, beside other details; a × c: a details.sequence that does not fit (no oracle).
    const results = [seq('b', { sequence, caseDir: '/tmp/x' }), seq('c', { sequence: { ...sequence, oracle: undefined } })];
    const sequences: RunReport = {
      ...report,
      implementations: [],
      properties: [{ id: 'sequence.equivalent', level: 'MUST', category: 'sequences', scope: 'pairing', requirement: 'same outcomes as the kernel', reference: 'unix(7)', socketTypes: ['stream'], addresses: ['pathname'] }],
      results,
      summary: summarize(results),
    };
    const file = join(out.path, 'sequence.html');
    await writeFile(file, renderHtml(sequences));
    const p = await context.newPage();
    p.on('pageerror', (e) => pageErrors.push(String(e)));
    await p.goto(pathToFileURL(file).href);
    await p.waitForSelector('body[data-ready="true"]');
    await p.locator('td.cell[data-server="a"][data-client="b"]').click();
    const item = p.locator('#detail .result[data-property="sequence.equivalent"]');
    await item.waitFor();
    const view = item.locator('.sequence');
    expect(await view.isVisible()).toBe(true);
    expect(await view.locator('.equivalence').innerText()).toBe('Compared: stream bytes as a concatenation up to each sync point');
    const table = view.locator('table.sequence-steps');
    expect(await table.locator('thead th').allInnerTexts()).toEqual(['step', 'command', 'ts-net × c-reference', 'c-reference × c-reference (kernel)']);
    // One row per command, the subject's and the oracle's outcome of each in its own column.
    const rows = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1).map((td) => td.textContent)));
    expect(rows).toEqual(sequence.commands.map((c, i) => [c, sequence.subject.steps[i], sequence.oracle.steps[i]]));
    // Exactly the first differing row is highlighted, by a class and a colour, and marked in words.
    const differing = table.locator('tbody tr.differs');
    expect(await differing.count()).toBe(1);
    expect(await differing.getAttribute('data-step')).toBe('4');
    expect(await differing.locator('.diff-marker').innerText()).toBe('\u2260 first difference');
    expect(await table.locator('.diff-marker').count()).toBe(1);
    const bg = (sel: string) => table.locator(sel).first().evaluate((td) => getComputedStyle(td).backgroundColor);
    expect(await bg('tbody tr.differs td')).not.toBe(await bg('tbody tr[data-step="1"] td'));
    expect(await view.locator('.first').innerText()).toBe('First difference at step 4 of 5.');
    // Markup in an outcome is text: no element was made from it.
    expect(await item.locator('img').count()).toBe(0);
    // The other details are still shown, without the sequence again.
    const detailsText = await item.locator('dl.fields dt').evaluateAll((dts) => dts.map((dt) => [dt.textContent, dt.nextElementSibling?.textContent]));
    expect(detailsText).toContainEqual(['details', JSON.stringify({ caseDir: '/tmp/x' }, null, 2)]);

    // A details.sequence that does not fit is shown as the plain JSON it is, and the page still works.
    await p.locator('td.cell[data-server="a"][data-client="c"]').click();
    const misfit = p.locator('#detail .result[data-property="sequence.equivalent"]');
    await misfit.waitFor();
    expect(await misfit.locator('.sequence').count()).toBe(0);
    expect(await misfit.locator('dl.fields dd pre').last().innerText()).toContain('"firstDifference": 3');
    await p.close();
    expect(pageErrors).toEqual([]);
  });
});
