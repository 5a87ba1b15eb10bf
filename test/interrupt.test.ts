/**
 * Interrupted runs (issue 11, items 4 and 6): Ctrl-C and SIGTERM write what finished, marked partial,
 * and exit 130 and 143; a CLI killed with SIGKILL leaves its case dirs, which the next run sweeps
 * (and only those: a live run's dirs and dirs without an owner file stay).
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { markOwned, OWNER_FILE, selfOwner } from '../suite/harness/casedir.js';
import { checkShape } from '../suite/model/shape.js';
import type { RunReport } from '../suite/report/results.js';
import { cli, CLI } from './support/cli.js';
import { leftoversOf } from './support/leftovers.js';

/** Resolves with the first stderr line of child that matches, or rejects at the deadline or its exit. */
function stderrLine(child: ResultPromise, pattern: RegExp, deadlineMs: number): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no stderr line matching ${pattern} within ${deadlineMs} ms; stderr so far:\n${text}`)), deadlineMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      for (const line of text.split('\n').slice(0, -1)) {
        const m = line.match(pattern);
        if (m) return finish(undefined, m);
      }
    };
    const onExit = (): void => finish(new Error(`the CLI exited before a stderr line matched ${pattern}; stderr:\n${text}`));
    function finish(err?: Error, m?: RegExpMatchArray): void {
      clearTimeout(timer);
      child.stderr!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    }
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });
}

describe('Ctrl-C and SIGTERM write what finished', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s mid-run: partial reports, exit %i, nothing left behind', async (signal, code) => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      // 16 units; at 2000 runs a unit that runs takes far longer than the first progress line (5 s).
      const child = execa(process.execPath, [CLI, 'run', '--runs', '2000', '--jobs', '2', '--seed', '11', '--property', 'delivery.payload', '--out', out.path], {
        reject: false,
        timeout: 120_000,
        env: { CI: 'true' },
      });
      // A real progress line with some units done and some not: the run is mid-way.
      const [, done, total] = await stderrLine(child, /\] (\d+)\/(\d+) cases done/, 60_000).then(async function next(m): Promise<RegExpMatchArray> {
        return Number(m[1]) >= 1 ? m : next(await stderrLine(child, /\] (\d+)\/(\d+) cases done/, 60_000));
      });
      expect(Number(done)).toBeLessThan(Number(total));
      const sent = performance.now();
      child.kill(signal);
      const r = await child;
      // The units in flight are stopped, not run to their end (one takes tens of seconds here).
      expect(performance.now() - sent).toBeLessThan(20_000);
      expect(r.exitCode).toBe(code);
      expect(r.stderr).toContain(`uds-conformance: ${signal}: no new case starts`);
      expect(r.stderr).not.toContain('harness failure');
      expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });

      const report = JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport;
      expect(() => checkShape('results', report)).not.toThrow();
      expect(report.partial).toBe(true);
      expect(report.notRun).toBeGreaterThan(0);
      expect(report.results.length).toBeGreaterThanOrEqual(Number(done));
      expect(report.results.length + report.notRun!).toBe(Number(total));
      const summary = await readFile(join(out.path, 'summary.md'), 'utf8');
      expect(summary.split('\n')[0]).toContain('partial run');
      expect(summary).toContain(`${report.notRun} of ${total} cases did not run`);
      const html = await readFile(join(out.path, 'index.html'), 'utf8');
      expect(html).toContain('<title>uds-conformance report (partial run)</title>');
      expect(html.indexOf('id="partial"')).toBeGreaterThan(0);
      expect(html.indexOf('id="partial"')).toBeLessThan(html.indexOf('Scorecards'));
      expect(r.stdout.split('\n')[0]).toContain('partial run');
      expect(r.stdout).toMatch(/partial run: .*\n\d+ results in/);
    } finally {
      await out.cleanup();
    }
  });
});

describe('a CLI killed with SIGKILL', () => {
  it("leaves its case dirs; the next run sweeps them, and no dir of a live run or without an owner file", async () => {
    const subject = await tmpDir({ unsafeCleanup: true });
    const out = await tmpDir({ unsafeCleanup: true });
    const strays: string[] = [];
    let killedPid = 0;
    try {
      // A server that never listens: its case (and payload) dir stay until the 60 s deadline.
      writeFileSync(
        join(subject.path, 'manifest.json'),
        JSON.stringify({
          name: 'never-listens',
          description: 'sleeps instead of listening',
          server: { command: ['/bin/sh', '-c', 'exec sleep 60', 'sh', '{path}', '{payload}'], payloadRequired: true },
        }),
      );
      const tmp = os.tmpdir();
      const watcher = watch(tmp);
      let child: ResultPromise | undefined;
      try {
        const payloadDir = new Promise<string>((resolve) => {
          watcher.on('change', (_event, name) => {
            const file = String(name);
            if (child?.pid !== undefined && file.startsWith(`udsc-${child.pid}-`) && file.endsWith('-p')) resolve(join(tmp, file));
          });
        });
        child = execa(process.execPath, [CLI, 'run', '--subject', join(subject.path, 'manifest.json'), '--subjects-only', '--server', 'never-listens', '--client', 'c-reference',
          '--property', 'delivery.payload', '--runs', '1', '--deadline', '60000', '--out', out.path], { reject: false, timeout: 60_000, env: { CI: 'true' } });
        killedPid = child.pid!;
        const pdir = await Promise.race([payloadDir, child.then((r) => Promise.reject(new Error(`the run ended first: ${r.stderr}`)))]);
        // The payload is written once the payload dir has its owner file: wait for it, then kill.
        await new Promise<void>((resolve) => {
          const inner = watch(pdir, () => {
            if (readdirSync(pdir).some((n) => n.startsWith('payload-'))) {
              inner.close();
              resolve();
            }
          });
          if (readdirSync(pdir).some((n) => n.startsWith('payload-'))) {
            inner.close();
            resolve();
          }
        });
        child.kill('SIGKILL');
        await child;
      } finally {
        watcher.close();
      }
      const left = leftoversOf(killedPid).dirs;
      // What a SIGKILLed run leaves: its case dir and payload dir, each with its owner file.
      expect(left.length).toBeGreaterThanOrEqual(2);
      for (const d of left) expect(existsSync(join(d, OWNER_FILE)), d).toBe(true);

      // Dirs the sweep must leave: a live owner (this test process), and the killed run's name without an owner file.
      const live = mkdtempSync(join(tmp, `udsc-${process.pid}-`));
      markOwned(live, selfOwner());
      const nameOnly = mkdtempSync(join(tmp, `udsc-${killedPid}-`));
      strays.push(live, nameOnly);

      const next = await cli(['run', '--property', 'delivery.payload', '--server', 'c-reference', '--client', 'c-reference', '--runs', '1', '--out', out.path]);
      expect(next.exitCode).toBe(0);
      expect(leftoversOf(killedPid).dirs).toEqual([nameOnly]);
      expect(existsSync(live)).toBe(true);
    } finally {
      for (const d of strays) rmSync(d, { recursive: true, force: true });
      // Whatever of the killed run is still alive (processes are item 1's; this test only cleans up).
      for (const p of killedPid ? leftoversOf(killedPid).processes : []) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      for (const d of killedPid ? leftoversOf(killedPid).dirs : []) rmSync(d, { recursive: true, force: true });
      await out.cleanup();
      await subject.cleanup();
    }
  });
});
