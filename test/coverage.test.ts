/**
 * `run --coverage`: ts-net runs as processes under NODE_V8_COVERAGE, and c8 reports which of its lines
 * (mapped back to the TypeScript sources) the conformance run exercised, as text and as HTML; a user's
 * JavaScript subject is covered from its manifest's directory.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { expect, it } from 'vitest';
import type { RunReport } from '../suite/report/results.js';
import { cli } from './support/cli.js';

it('writes a c8 report of the lines of ts-net that the run exercised', async () => {
  const out = await tmpDir({ unsafeCleanup: true });
  try {
    const r = await cli(['run', '--coverage', '--runs', '3', '--seed', '3', '--server', 'ts-net', '--client', 'ts-net', '--property', 'delivery.*', '--property', 'eof.*', '--out', out.path]);
    expect(r.exitCode, r.stderr).toBe(0);
    // The per-implementation line and c8's table, naming ts-net's TypeScript sources.
    expect(r.stdout).toMatch(/fixtures\/ts-net\s+lines \d+\.\d% \(\d+\/\d+\)/);
    expect(r.stdout).toMatch(/server\.ts\s+\|/);
    expect(r.stdout).toMatch(/client\.ts\s+\|/);
    expect(r.stdout).not.toMatch(/suite\/|runner\.ts|harness\.ts/);
    const html = join(out.path, 'coverage', 'index.html');
    expect(existsSync(html)).toBe(true);
    expect(await readFile(html, 'utf8')).toContain('server.ts');
    const summary = JSON.parse(await readFile(join(out.path, 'coverage', 'coverage-summary.json'), 'utf8')) as Record<string, { lines: { covered: number } }>;
    const files = Object.keys(summary).filter((k) => k !== 'total');
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(f).toMatch(/\/fixtures\/ts-net\/[\w-]+\.ts$/);
    // The in-process fast path was off: the server's lines ran in a process that wrote coverage.
    expect(summary[files.find((f) => f.endsWith('/server.ts'))!]!.lines.covered).toBeGreaterThan(10);
    const report = JSON.parse(await readFile(join(out.path, 'results.json'), 'utf8')) as RunReport;
    expect(report.coverage).toEqual({ html: 'coverage/index.html', summary: 'coverage/summary.txt' });
    // The raw V8 data is gone.
    expect(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`uds-conformance-v8-${r.pid}-`))).toEqual([]);
  } finally {
    await out.cleanup();
  }
});

it("covers a JavaScript subject of the user's, from its manifest's directory", async () => {
  const subject = await tmpDir({ unsafeCleanup: true });
  const out = await tmpDir({ unsafeCleanup: true });
  try {
    const js = {
      'package.json': '{"type":"commonjs"}',
      'server.js': [
        "const net = require('node:net'); const fs = require('node:fs');",
        "const data = Buffer.from('Server Message\\n');",
        'const srv = net.createServer((c) => c.end(data, () => { srv.close(); }));',
        'srv.listen(process.argv[2]);',
      ].join('\n'),
      'client.js': "require('node:net').connect(process.argv[2]).on('error', () => { process.exitCode = 1; }).pipe(process.stdout);",
      'manifest.json': JSON.stringify({
        name: 'js-subject',
        description: 'a tiny JavaScript subject',
        server: { command: [process.execPath, './server.js', '{path}'] },
        client: { command: [process.execPath, './client.js', '{path}'] },
      }),
    };
    for (const [name, text] of Object.entries(js)) await writeFile(join(subject.path, name), text);
    const r = await cli(['run', '--coverage', '--subject', join(subject.path, 'manifest.json'), '--subjects-only', '--runs', '2', '--seed', '5', '--property', 'delivery.default-message', '--out', out.path]);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`${subject.path}  lines`);
    expect(r.stdout).toMatch(/server\.js\s+\|\s+100/);
    expect(existsSync(join(out.path, 'coverage', 'index.html'))).toBe(true);
  } finally {
    await out.cleanup();
    await subject.cleanup();
  }
});
