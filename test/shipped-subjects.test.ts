/**
 * The ready-made manifests in fixtures/subjects/ describe real tools, and their expectations say what
 * those tools really do: a run over each exits 0 (nothing unexpected) and reports no stale
 * expectation. A tool that is not installed is skipped here, except in CI, which installs them all.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import type { RunReport } from '../suite/report/results.js';
import { cli } from './support/cli.js';
import { pythonFirstOnPath } from './support/python-path.js';
import { execaSync } from 'execa';

const SUBJECTS = join(PROJECT_ROOT, 'fixtures', 'subjects');
// The python3 manifests' hundreds of starts go straight to the interpreter, not through a pyenv shim.
pythonFirstOnPath();
const installed = (tool: string): boolean => execaSync('sh', ['-c', `command -v ${tool}`], { reject: false }).exitCode === 0;

/** Manifest, the tool it needs, and the runs per property (python3 starts slowly through pyenv shims). */
const SHIPPED: Array<[string, string, string[]]> = [
  ['socat.json', 'socat', ['--runs', '3']],
  ['netcat-openbsd.json', 'nc', ['--runs', '3']],
  ['ncat.json', 'ncat', ['--runs', '3']],
  ['python3.json', 'python3', ['--runs', '2', '--client', 'c-reference', '--client', 'python3', '--server', 'c-reference', '--server', 'python3']],
  ['python-asyncio/manifest.json', 'python3', ['--runs', '2', '--client', 'c-reference', '--client', 'python-asyncio', '--server', 'c-reference', '--server', 'python-asyncio']],
  ['node-idiomatic/manifest.json', 'node', ['--runs', '3', '--client', 'c-reference', '--client', 'node-idiomatic', '--server', 'c-reference', '--server', 'node-idiomatic']],
];

// Both groups concurrent, so they form one group of the file (vitest runs sibling suites that are
// concurrent side by side): node:net's run starts beside the others, not after the slowest of them.
describe.concurrent('shipped manifests match what the tools do', () => {
  for (const [manifest, tool, extra] of SHIPPED) {
    const run = installed(tool) || process.env.CI === 'true' ? it.concurrent : it.skip;
    run(`${manifest} (${tool})`, async () => {
      const out = await tmpDir({ unsafeCleanup: true });
      try {
        const r = await cli(['run', '--seed', '2026', '--subject', join(SUBJECTS, manifest), '--subjects-only', '--out', out.path, ...extra], { timeout: 240_000 });
        const report = JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport;
        const unexpected = report.results.filter((x) => ['fail', 'unexpected-pass', 'error'].includes(x.status)).map((x) => `${x.status} ${x.property} ${x.server} × ${x.client}: ${x.message}`);
        expect(unexpected).toEqual([]);
        expect(report.staleExpectations ?? []).toEqual([]);
        expect(r.exitCode).toBe(0);
      } finally {
        await out.cleanup();
      }
    }, 250_000);
  }
});

/**
 * Issue 10's first done-when: a correct server and client written as a new user would (node:net, the
 * server requires a payload argument) pass every property that applies to them, and every other unit
 * is unsupported with its reason. No false failure: the only failures allowed are c-original's own,
 * declared in its expectations.
 */
describe.concurrent('a new user\'s correct node:net subject', () => {
  it('passes everything that applies, and is unsupported with a reason for the rest', async () => {
    const out = await tmpDir({ unsafeCleanup: true });
    try {
      const r = await cli(['run', '--seed', '11', '--runs', '4', '--subject', join(SUBJECTS, 'node-net', 'manifest.json'), '--subjects-only', '--out', out.path], { timeout: 240_000 });
      const report = JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport;
      const wrong = report.results.filter((x) => {
        if (x.status === 'pass') return false;
        if (x.status === 'unsupported') return !x.reason;
        // c-original's seed quirks are its own expected failures, never node-net's.
        return !(x.status === 'expected-fail' && (x.server === 'c-original' || x.client === 'c-original'));
      });
      expect(wrong.map((x) => `${x.status} ${x.property} ${x.server} × ${x.client}: ${x.message}`)).toEqual([]);
      // It really ran: the seed-protocol properties passed in both roles.
      expect(report.results.filter((x) => x.status === 'pass' && x.server === 'node-net').length).toBeGreaterThan(10);
      expect(report.results.filter((x) => x.status === 'pass' && x.client === 'node-net').length).toBeGreaterThan(10);
      // The fixed-message properties are unsupported for a server that always needs a payload, and say why.
      const fixed = report.results.find((x) => x.property === 'delivery.default-message' && x.server === 'node-net');
      expect(fixed?.status).toBe('unsupported');
      expect(r.exitCode).toBe(0);
    } finally {
      await out.cleanup();
    }
  }, 250_000);
});
