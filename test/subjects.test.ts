/**
 * Subjects: manifests are validated before anything runs (exit 2 naming file and field), a manifest for
 * an implementation outside this repository works with nothing added to it, and every mutant is caught
 * when it comes in through a manifest, as a user's implementation would.
 */
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import type { RunReport } from '../suite/report/results.js';
import { cli } from './support/cli.js';



const GOOD = { name: 'x', server: { command: ['cat', '{payload}'] } };
const BAD_MANIFESTS: Array<[string, string | object, RegExp]> = [
  ['unknown top-level field', { ...GOOD, colour: 'blue' }, /: colour: unknown field/],
  ['unknown role field', { name: 'x', server: { command: ['cat'], shell: true } }, /: server\.shell: unknown field/],
  ['missing name', { server: { command: ['cat'] } }, /: name: is required/],
  ['no role at all', { name: 'x' }, /: server\|client\|driver: at least one of server, client or driver is required/],
  ['missing command', { name: 'x', client: { env: {} } }, /: client\.command: is required/],
  ['empty command', { name: 'x', client: { command: [] } }, /: client\.command: must NOT have fewer than 1 items/],
  ['unknown placeholder', { name: 'x', server: { command: ['cat', '{socket}'] } }, /: server\.command\[1\]: unknown placeholder \{socket\}/],
  ['payload placeholder in a client', { name: 'x', client: { command: ['cat', '{payload}'] } }, /: client\.command\[1\]: unknown placeholder \{payload\}/],
  ['executable not found', { name: 'x', client: { command: ['no-such-program-anywhere', '{path}'] } }, /: client\.command\[0\]: executable "no-such-program-anywhere" not found on PATH/],
  ['relative executable not found', { name: 'x', client: { command: ['./missing.sh', '{path}'] } }, /: client\.command\[0\]: executable "\.\/missing\.sh" not found \(relative to /],
  ['unknown property in expectations', { ...GOOD, expectations: { 'no.such': { status: 'fail', reason: 'r' } } }, /: expectations\.no\.such: no such property/],
  ['expectation without reason', { ...GOOD, expectations: { 'delivery.payload': { status: 'fail' } } }, /: expectations\.delivery\.payload\.reason: is required/],
  ['name taken by a built-in', { name: 'c-reference', client: { command: ['cat'] } }, /: name: "c-reference" is already taken/],
  ['invalid JSON', '{\n  "name": "x",\n  "server": { "command": ["cat"] },\n}\n', /: \(json\): invalid JSON at line 4, column 1/],
];

describe('malformed manifests exit 2 with a precise message and run nothing', () => {
  it.each(BAD_MANIFESTS)('%s', async (_what, manifest, message) => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const file = join(dir.path, 'manifest.json');
      await writeFile(file, typeof manifest === 'string' ? manifest : JSON.stringify(manifest, null, 2));
      const r = await cli(['run', '--subject', file, '--out', join(dir.path, 'out')]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(file);
      expect(r.stderr).toMatch(message);
      // Nothing ran: no report was written.
      await expect(readFile(join(dir.path, 'out', 'results.json'))).rejects.toThrow();
    } finally {
      await dir.cleanup();
    }
  });

  it('a missing manifest file is a usage error too', async () => {
    const r = await cli(['run', '--subject', '/nonexistent/manifest.json']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/\/nonexistent\/manifest\.json: \(file\): cannot read: ENOENT/);
  });
});

describe('an implementation from outside the repository', () => {
  it('runs from a manifest in a temp dir, with nothing added to the repository', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      // A throwaway client written the way a user would: a shell script around python3's socket module.
      const script = join(dir.path, 'my-client.sh');
      await writeFile(
        script,
        `#!/bin/sh\nexec python3 -c 'import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nwhile True:\n  b=s.recv(65536)\n  if not b: break\n  sys.stdout.buffer.write(b)\n' "$1"\n`,
      );
      await chmod(script, 0o755);
      await writeFile(join(dir.path, 'manifest.json'), JSON.stringify({ name: 'my-client', client: { command: ['./my-client.sh', '{path}'] } }));
      const r = await cli(['run', '--runs', '5', '--seed', '3', '--subject', join(dir.path, 'manifest.json'), '--subjects-only', '--property', 'delivery.*', '--property', 'connect.*', '--out', join(dir.path, 'out')]);
      const report = JSON.parse(await readFile(join(dir.path, 'out', 'results.json'), 'utf8')) as RunReport;
      expect(report.implementations.find((i) => i.name === 'my-client')).toMatchObject({ kind: 'command', roles: ['client'] });
      const mine = report.results.filter((x) => x.client === 'my-client');
      expect(mine.length).toBeGreaterThan(0);
      // A Python client is binary-safe and fails connect with a traceback naming the error.
      expect(mine.filter((x) => x.status !== 'pass' && x.status !== 'unsupported')).toEqual([]);
      expect(r.exitCode).toBe(0);
    } finally {
      await dir.cleanup();
    }
  });
});

describe('mutants through manifests', () => {
  for (const mutant of mutants()) {
    it.concurrent(`${mutant.implementation.name} is caught as a subject`, async () => {
      const dir = await tmpDir({ unsafeCleanup: true });
      try {
        const impl = mutant.implementation;
        const role = impl.server ? 'server' : impl.client ? 'client' : impl.driver!.roles![0]!;
        // fd mutants are drivers, as a user's library under test would be.
        const manifest = impl.driver
          ? { name: impl.name, driver: { command: impl.driver.command!.command } }
          : { name: impl.name, [role]: { command: (impl.server ?? impl.client)!.command!.command } };
        await writeFile(join(dir.path, 'm.json'), JSON.stringify(manifest));
        const args = ['run', '--runs', '25', '--seed', '11', '--no-shrink', '--subject', join(dir.path, 'm.json'), '--subjects-only', '--out', join(dir.path, 'out')];
        for (const p of mutant.caughtBy) args.push('--property', p);
        args.push(role === 'server' ? '--client' : '--server', 'c-reference');
        const r = await cli(args);
        expect(r.exitCode).toBe(1);
        const report = JSON.parse(await readFile(join(dir.path, 'out', 'results.json'), 'utf8')) as RunReport;
        for (const p of mutant.caughtBy) {
          const cell = report.results.find((x) => x.property === p && (x.server === impl.name || x.client === impl.name));
          expect({ p, status: cell?.status, blame: cell?.blame }).toEqual({ p, status: 'fail', blame: role });
        }
      } finally {
        await dir.cleanup();
      }
    });
  }
});
