/**
 * Subjects: manifests and expectations files are validated before anything runs (exit 2 naming file
 * and field, bounded before they are read), the fixed-message rule is explicit (a server says how it
 * starts without a payload, nothing edits an argv, and the plan makes the rest unsupported), a
 * manifest for an implementation outside this repository works with nothing added to it, and every
 * mutant is caught when it comes in through a manifest, as a user's implementation would.
 */
import { chmod, mkdir, readFile, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import { expand, prepareCommand, takesPayload } from '../suite/harness/command.js';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import type { Implementation } from '../suite/model/types.js';
import { planUnits } from '../suite/plan/plan.js';
import { allProperties } from '../suite/properties/index.js';
import { builtinImplementations } from '../suite/registry.js';
import type { RunReport } from '../suite/report/results.js';
import { loadSubject, ManifestError, MAX_INPUT_BYTES, writeExpectations } from '../suite/subjects/manifest.js';
import { cli } from './support/cli.js';
import { pythonFirstOnPath } from './support/python-path.js';

// The Python subjects below start python3 itself, not a pyenv shim in front of it.
pythonFirstOnPath();

const PROPERTY_IDS = allProperties().map((p) => p.id);
const SEED_PROPERTIES = allProperties().filter((p) => (p.via ?? 'seed') === 'seed');

const GOOD = { name: 'x', server: { command: ['cat', '{payload}'], payloadRequired: true } };
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
  // Bounded strings (docs/subject-manifest.schema.json).
  ['a name of 101 characters', { ...GOOD, name: 'n'.repeat(101) }, /: name: must NOT have more than 100 characters/],
  ['a name outside the safe pattern', { ...GOOD, name: '../x' }, /: name: must match pattern/],
  ['a description of 2001 characters', { ...GOOD, description: 'd'.repeat(2001) }, /: description: must NOT have more than 2000 characters/],
  ['a reason of 2001 characters', { ...GOOD, expectations: { 'delivery.payload': { status: 'fail', reason: 'r'.repeat(2001) } } }, /: expectations\.delivery\.payload\.reason: must NOT have more than 2000 characters/],
  // Inline expectations have the expectations file's shape (one definition, $ref'd).
  ['null expectations', { ...GOOD, expectations: null }, /: expectations: must be object/],
  ['an expectation that is a string', { ...GOOD, expectations: { 'delivery.payload': 'fail' } }, /: expectations\.delivery\.payload: must be object/],
  ['an expectation with an unknown field', { ...GOOD, expectations: { 'delivery.payload': { status: 'fail', reason: 'r', why: 'x' } } }, /: expectations\.delivery\.payload\.why: unknown field/],
  // The fixed-message rule: a server that takes {payload} says how it starts without one.
  [
    'a payload server that does not say how it starts without one',
    { name: 'x', server: { command: ['cat', '{payload}'] } },
    /: server\.withoutPayload: the command takes \{payload\}: say how the server starts without one/,
  ],
  ['a payload on stdin, and no word on starting without one', { name: 'x', server: { command: ['cat'], stdin: '{payload}' } }, /: server\.withoutPayload: the command takes \{payload\}/],
  ['withoutPayload and payloadRequired together', { name: 'x', server: { command: ['cat', '{payload}'], withoutPayload: { command: ['cat'] }, payloadRequired: true } }, /: server\.payloadRequired: give withoutPayload or payloadRequired, not both/],
  ['withoutPayload on a fixed-message server', { name: 'x', server: { command: ['cat', '{path}'], withoutPayload: { command: ['cat'] } } }, /: server\.withoutPayload: the command takes no \{payload\}/],
  ['payloadRequired on a fixed-message server', { name: 'x', server: { command: ['cat', '{path}'], payloadRequired: true } }, /: server\.payloadRequired: the command takes no \{payload\}/],
  ['{payload} in the command without a payload', { name: 'x', server: { command: ['cat', '{payload}'], withoutPayload: { command: ['cat', '{payload}'] } } }, /: server\.withoutPayload\.command\[1\]: unknown placeholder \{payload\}/],
  ['payloadRequired that is not true', { name: 'x', server: { command: ['cat', '{payload}'], payloadRequired: false } }, /: server\.payloadRequired: must be equal to constant/],
  ['{path} in a driver, which has no socket when it starts', { name: 'x', driver: { command: ['cat', '{path}'] } }, /: driver\.command\[1\]: unknown placeholder \{path\}/],
  // Roles' files: checked when the manifest is read, not blamed on the subject later.
  ['a cwd that does not exist', { name: 'x', client: { command: ['cat'], cwd: 'no-such-dir' } }, /: client\.cwd: directory .*no-such-dir does not exist/],
  ['a cwd that is a file', { name: 'x', client: { command: ['cat'], cwd: 'manifest.json' } }, /: client\.cwd: .*manifest\.json is not a directory/],
  ['a stdin file that does not exist', { name: 'x', client: { command: ['cat'], stdin: 'no-such-file' } }, /: client\.stdin: file .*no-such-file does not exist/],
  [
    'a stdin file for the start without a payload that does not exist',
    { name: 'x', server: { command: ['cat', '{payload}'], withoutPayload: { command: ['cat'], stdin: 'fixed.txt' } } },
    /: server\.withoutPayload\.stdin: file .*fixed\.txt does not exist/,
  ],
  ['a stdin that is a directory', { name: 'x', client: { command: ['cat'], stdin: '.' } }, /: client\.stdin: .* is not a regular file/],
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

/** Runs `run --subject` over a manifest (and other files) written into a fresh temp dir, which is removed. */
async function runInDir(files: Record<string, string | object>, args: string[] = []) {
  const dir = await tmpDir({ unsafeCleanup: true });
  try {
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(dir.path, name, '..'), { recursive: true });
      await writeFile(join(dir.path, name), typeof content === 'string' ? content : JSON.stringify(content, null, 2));
    }
    const r = await cli(['run', '--subject', join(dir.path, 'manifest.json'), '--out', join(dir.path, 'out'), ...args]);
    const report = await readFile(join(dir.path, 'out', 'results.json'), 'utf8').then((text) => JSON.parse(text) as RunReport, () => undefined);
    return { ...r, dir: dir.path, wrote: report !== undefined, report };
  } finally {
    await dir.cleanup();
  }
}

const WITH_FILE = { ...GOOD, expectationsFile: 'expectations.json' };
const BAD_EXPECTATIONS_FILES: Array<[string, string, RegExp]> = [
  ['null', 'null', /expectations\.json: \(top level\): must be object/],
  ['a string instead of an object', '"delivery.payload fails"', /expectations\.json: \(top level\): must be object/],
  ['an array', '[]', /expectations\.json: \(top level\): must be object/],
  ['an expectation that is a string', '{ "delivery.payload": "fail" }', /expectations\.json: delivery\.payload: must be object/],
  ['an unknown shape', '{ "delivery.payload": { "status": "pass", "reason": "r" } }', /expectations\.json: delivery\.payload\.status: must be equal to constant/],
  ['an unknown field', '{ "delivery.payload": { "status": "fail", "reason": "r", "colour": "blue" } }', /expectations\.json: delivery\.payload\.colour: unknown field/],
  ['an unknown property', '{ "no.such": { "status": "fail", "reason": "r" } }', /expectations\.json: no\.such: no such property/],
  ['invalid JSON', '{ "delivery.payload": ', /expectations\.json: \(json\): invalid JSON/],
];

describe('expectations files are validated like manifests, and stay inside the manifest\'s tree', () => {
  it.each(BAD_EXPECTATIONS_FILES)('%s exits 2 naming the file and the field', async (_what, content, message) => {
    const r = await runInDir({ 'manifest.json': WITH_FILE, 'expectations.json': content });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(r.dir, 'expectations.json'));
    expect(r.stderr).toMatch(message);
    expect(r.wrote).toBe(false);
  });

  it('"../../etc/passwd" is refused unread: its bytes are never echoed', async () => {
    const passwd = await readFile('/etc/passwd', 'utf8');
    // The temp dir is /tmp/<name>: two levels up is the root.
    const r = await runInDir({ 'manifest.json': { ...GOOD, expectationsFile: '../../etc/passwd' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/manifest\.json: expectationsFile: ".*etc\/passwd" lies outside the manifest's directory/);
    expect(r.stderr).not.toContain(passwd.split('\n')[0]!);
    expect(r.wrote).toBe(false);
  });

  it('a symlink inside the tree that points out of it is refused too (symlinks resolved)', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    const outside = await tmpDir({ unsafeCleanup: true });
    try {
      const target = join(outside.path, 'theirs.json');
      await writeFile(target, '{}\n');
      await symlink(target, join(dir.path, 'expectations.json'));
      await writeFile(join(dir.path, 'manifest.json'), JSON.stringify(WITH_FILE));
      const r = await cli(['run', '--subject', join(dir.path, 'manifest.json'), '--out', join(dir.path, 'out'), '--update-expectations']);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/expectationsFile: "expectations\.json" lies outside the manifest's directory/);
      expect(await readFile(target, 'utf8')).toBe('{}\n');
    } finally {
      await dir.cleanup();
      await outside.cleanup();
    }
  });

  it('an expectations file in a directory that does not exist is refused', async () => {
    const r = await runInDir({ 'manifest.json': { ...GOOD, expectationsFile: 'no-such-dir/expectations.json' } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/manifest\.json: expectationsFile: "no-such-dir\/expectations\.json" is in a directory that does not exist/);
  });

  it('a manifest or expectations file over 1 MiB is refused before it is parsed, at once', async () => {
    // A 10 MiB name: once 2 GiB of memory; now refused by its size, unread.
    const huge = JSON.stringify({ ...GOOD, name: 'n'.repeat(10 * 1024 * 1024) });
    const started = performance.now();
    const r = await runInDir({ 'manifest.json': huge });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`manifest\\.json: \\(file\\): is ${huge.length} bytes; the limit is ${MAX_INPUT_BYTES}`));
    expect(r.stderr.length).toBeLessThan(1000);
    // Not a benchmark: a parse and validation of 10 MiB took seconds and gigabytes; a refusal is one start.
    expect(performance.now() - started).toBeLessThan(20_000);
    const big = await runInDir({ 'manifest.json': WITH_FILE, 'expectations.json': `{${' '.repeat(MAX_INPUT_BYTES)}}` });
    expect(big.exitCode).toBe(2);
    expect(big.stderr).toMatch(/expectations\.json: \(file\): is \d+ bytes; the limit/);
  });

  it('a name under the file limit but over 100 characters is refused without being echoed', async () => {
    const r = await runInDir({ 'manifest.json': { ...GOOD, name: 'n'.repeat(900 * 1024) } });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/manifest\.json: name: must NOT have more than 100 characters/);
    expect(r.stderr.length).toBeLessThan(1000);
  });

  it('a manifest that is not a regular file (a directory) is refused', async () => {
    const r = await cli(['run', '--subject', PROJECT_ROOT]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${PROJECT_ROOT}: (file): is not a regular file`);
  });

  it('--update-expectations writes the expectations file and nothing else', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      // A mutant that fails delivery.default-message, as a subject with its expectations in a file of its own.
      const mutant = mutants().find((m) => m.implementation.name === 'mutant-server-wrong-default')!.implementation.server!;
      const manifest = {
        name: 'wrong-default',
        server: { command: mutant.command!.command, withoutPayload: { command: mutant.commandWithoutPayload!.command } },
        expectationsFile: 'known/expectations.json',
      };
      const manifestText = JSON.stringify(manifest, null, 2);
      await mkdir(join(dir.path, 'known'));
      await writeFile(join(dir.path, 'manifest.json'), manifestText);
      const args = ['run', '--subject', join(dir.path, 'manifest.json'), '--subjects-only', '--client', 'c-reference', '--property', 'delivery.default-message', '--runs', '2', '--out', join(dir.path, 'out')];
      const r = await cli([...args, '--update-expectations']);
      expect(r.stdout).toMatch(/expectations of wrong-default written to \S*\/known\/expectations\.json\n/);
      const written = JSON.parse(await readFile(join(dir.path, 'known', 'expectations.json'), 'utf8')) as Record<string, unknown>;
      expect(Object.keys(written)).toEqual(['delivery.default-message']);
      expect(await readFile(join(dir.path, 'manifest.json'), 'utf8')).toBe(manifestText);
      // The next run reads it: the failure is expected now.
      expect((await cli(args)).exitCode).toBe(0);
    } finally {
      await dir.cleanup();
    }
  });

  it('the write checks the tree again: an expectations file swapped for a symlink out of it is not written through', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    const outside = await tmpDir({ unsafeCleanup: true });
    try {
      await writeFile(join(dir.path, 'manifest.json'), JSON.stringify(WITH_FILE));
      await writeFile(join(dir.path, 'expectations.json'), '{}');
      const subject = loadSubject(join(dir.path, 'manifest.json'), PROPERTY_IDS);
      const target = join(outside.path, 'theirs.json');
      await writeFile(target, 'theirs');
      await unlink(join(dir.path, 'expectations.json'));
      await symlink(target, join(dir.path, 'expectations.json'));
      await expect(writeExpectations(subject, { 'delivery.payload': { status: 'fail', reason: 'r' } })).rejects.toThrow(ManifestError);
      expect(await readFile(target, 'utf8')).toBe('theirs');
    } finally {
      await dir.cleanup();
      await outside.cleanup();
    }
  });
});

describe('the fixed-message rule is explicit', () => {
  it('expand never drops an argument: {payload} without a payload is an error, not an edit', () => {
    const template = { command: ['srv', '--socket', '{path}', '--send-file', '{payload}'] };
    expect(expand(template, { path: 's', payload: '/p' })).toEqual(['srv', '--socket', 's', '--send-file', '/p']);
    expect(() => expand(template, { path: 's' })).toThrow(/command\[4\] uses \{payload\}/);
    expect(() => prepareCommand({ command: ['srv', '{path}'], stdin: '{payload}' }, { dir: '/d', vars: { path: 's' } })).toThrow(/stdin uses \{payload\}/);
    expect(expand({ command: ['srv', '{path}', '{dir}/x'] }, { path: 's', dir: '/d' })).toEqual(['srv', 's', '/d/x']);
  });

  it('every built-in and mutant server that takes {payload} declares how it starts without one', () => {
    const servers: Implementation[] = [...builtinImplementations(), ...mutants().map((m) => m.implementation)].filter((i) => i.server?.command);
    expect(servers.length).toBeGreaterThan(3);
    for (const impl of servers) {
      const spec = impl.server!;
      const declared = spec.commandWithoutPayload !== undefined || spec.payloadRequired === true;
      expect({ name: impl.name, declared }).toEqual({ name: impl.name, declared: takesPayload(spec.command!) });
      if (spec.commandWithoutPayload) expect({ name: impl.name, takes: takesPayload(spec.commandWithoutPayload) }).toEqual({ name: impl.name, takes: false });
      expect({ name: impl.name, payload: spec.payload }).toEqual({ name: impl.name, payload: takesPayload(spec.command!) });
    }
  });

  it('the plan makes a payloadRequired server unsupported for exactly the properties that start it without a payload', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      await writeFile(join(dir.path, 'manifest.json'), JSON.stringify({ name: 'needs-payload', server: { command: ['cat', '{path}', '{payload}'], payloadRequired: true } }));
      const subject = loadSubject(join(dir.path, 'manifest.json'), PROPERTY_IDS).implementation;
      const units = planUnits({ implementations: [...builtinImplementations(), subject], properties: SEED_PROPERTIES, onlyWith: ['needs-payload'], clients: ['c-reference'] });
      const without = SEED_PROPERTIES.filter((p) => p.startsWithoutPayload).map((p) => p.id);
      expect(without).toEqual(['delivery.default-message']);
      const byProperty = new Map(units.map((u) => [u.property.id, u.unsupported]));
      for (const id of byProperty.keys()) {
        if (without.includes(id)) expect(byProperty.get(id)).toMatch(/server needs-payload needs a payload \(payloadRequired\), and this property starts the server without one/);
        else expect({ id, unsupported: byProperty.get(id) }).toEqual({ id, unsupported: undefined });
      }
      expect([...byProperty.keys()].filter((id) => !without.includes(id)).length).toBeGreaterThan(3);
    } finally {
      await dir.cleanup();
    }
  });

  it("the guide's own example works: two commands, and the one without a payload has no dangling flag", async () => {
    // A server written as a new user would: --send-file FILE, or the fixed message; a stray flag is a usage error.
    const server = [
      'import os, socket, sys',
      'args = sys.argv[1:]',
      'if len(args) not in (2, 4) or args[0] != "--socket" or (len(args) == 4 and args[2] != "--send-file"):',
      '    sys.exit("usage: server --socket PATH [--send-file FILE]")',
      'path = args[1]',
      'data = open(args[3], "rb").read() if len(args) == 4 else b"Server Message\\n"',
      's = socket.socket(socket.AF_UNIX)',
      'try: os.unlink(path)',
      'except FileNotFoundError: pass',
      's.bind(path); s.listen(1); c, _ = s.accept(); c.sendall(data); c.close(); s.close(); os.unlink(path)',
    ].join('\n');
    const r = await runInDir(
      {
        'server.py': server,
        'manifest.json': {
          name: 'guide-example',
          server: {
            command: ['python3', 'server.py', '--socket', '{path}', '--send-file', '{payload}'],
            withoutPayload: { command: ['python3', 'server.py', '--socket', '{path}'] },
          },
        },
      },
      ['--subjects-only', '--client', 'c-reference', '--property', 'delivery.*', '--runs', '3', '--seed', '5'],
    );
    expect(r.report?.results.map((x) => `${x.property}: ${x.status}`)).toEqual(['delivery.payload: pass', 'delivery.default-message: pass']);
    expect(r.exitCode).toBe(0);
  });

  it('a payloadRequired subject is reported unsupported, with the reason, for the fixed-message properties', async () => {
    const dir = await tmpDir({ unsafeCleanup: true });
    try {
      const script = join(dir.path, 'server.py');
      await writeFile(script, 'import os, socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1]); s.listen(1); c, _ = s.accept(); c.sendall(open(sys.argv[2], "rb").read()); c.close(); os.unlink(sys.argv[1])\n');
      await writeFile(join(dir.path, 'manifest.json'), JSON.stringify({ name: 'needs-payload', server: { command: ['python3', 'server.py', '{path}', '{payload}'], payloadRequired: true } }));
      const r = await cli(['run', '--subject', join(dir.path, 'manifest.json'), '--subjects-only', '--client', 'c-reference', '--property', 'delivery.*', '--runs', '2', '--out', join(dir.path, 'out')]);
      const report = JSON.parse(await readFile(join(dir.path, 'out', 'results.json'), 'utf8')) as RunReport;
      const cells = Object.fromEntries(report.results.map((x) => [x.property, x.status]));
      expect(cells).toEqual({ 'delivery.payload': 'pass', 'delivery.default-message': 'unsupported' });
      expect(report.results.find((x) => x.property === 'delivery.default-message')!.reason).toMatch(/needs a payload \(payloadRequired\)/);
      expect(r.exitCode).toBe(0);
    } finally {
      await dir.cleanup();
    }
  });
});

describe("the guide's table of what each property asks", () => {
  it('names every seed-protocol property once, and says "no payload" exactly for those that start the server without one', async () => {
    const guide = await readFile(join(PROJECT_ROOT, 'docs', 'validate-your-library.md'), 'utf8');
    // The table under its heading, up to the first line that is not a table row.
    const section = guide.split('\n### What each property asks of your roles\n')[1]!.split('\n');
    const table = section.slice(section.findIndex((line) => line.startsWith('| property |')));
    const rows = table.slice(0, table.findIndex((line) => !line.startsWith('|'))).filter((line) => /^\| `[a-z-]+\.[a-z-]+` \|/.test(line));
    const ids = rows.map((row) => /^\| `([^`]+)`/.exec(row)![1]!);
    expect(ids.sort()).toEqual(SEED_PROPERTIES.map((p) => p.id).sort());
    for (const row of rows) {
      const [id, server] = row.split('|').slice(1, 3).map((cell) => cell.trim());
      const property = SEED_PROPERTIES.find((p) => `\`${p.id}\`` === id)!;
      expect({ id, noPayload: server!.startsWith('no payload') }).toEqual({ id, noPayload: property.startsWithoutPayload === true });
      expect({ id, needsPayload: /needs a server that takes a payload/.test(server!) }).toEqual({ id, needsPayload: property.needsPayload === true });
    }
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
  // mutant-server-never-closes comes in through a manifest in test/session-proof.test.ts, whose run
  // checks the same verdicts (every property it is caught by fails with c-reference's client, blamed on
  // the server): each of its cases waits out a quiet period, so running it here too cost a minute.
  for (const mutant of mutants().filter((m) => m.implementation.name !== 'mutant-server-never-closes')) {
    it.concurrent(`${mutant.implementation.name} is caught as a subject`, async () => {
      const dir = await tmpDir({ unsafeCleanup: true });
      try {
        const impl = mutant.implementation;
        const role = impl.server ? 'server' : impl.client ? 'client' : impl.driver!.roles![0]!;
        // fd mutants are drivers, as a user's library under test would be.
        const manifest = impl.driver
          ? { name: impl.name, driver: { command: impl.driver.command!.command } }
          : impl.server
            ? { name: impl.name, server: { command: impl.server.command!.command, withoutPayload: { command: impl.server.commandWithoutPayload!.command } } }
            : { name: impl.name, client: { command: impl.client!.command!.command } };
        await writeFile(join(dir.path, 'm.json'), JSON.stringify(manifest));
        // --strict: a mutant caught by a SHOULD property (fd.scm-max) fails the run only with it.
        const args = ['run', '--runs', '10', '--seed', '11', '--no-shrink', '--strict', '--subject', join(dir.path, 'm.json'), '--subjects-only', '--out', join(dir.path, 'out')];
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
