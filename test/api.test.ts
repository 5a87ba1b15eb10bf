/**
 * The public API (suite/index.ts, suite/adapter.ts; docs/api.md): defineSubject's three ways in each
 * run through runSuite and give results; a bad subject throws SubjectError naming the field;
 * listProperties filters as --property does; every type a consumer meets is exported by name; the
 * package's "exports" resolve to the built entries; and the fd leak check of in-process subjects
 * (suite/harness/fd-leaks.ts) catches a leaking seed role and adapter and passes clean ones.
 *
 * Imported from the sources (suite/index.js): the packed package, as a consumer installs it, is the
 * install tests' to check.
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dir as tmpDir } from 'tmp-promise';
import { afterAll, describe, expect, it } from 'vitest';
import * as native from '../native/index.js';
import { createTsNetAdapter } from '../fixtures/ts-net/driver.js';
import { runClient } from '../fixtures/ts-net/client.js';
import { runServer } from '../fixtures/ts-net/server.js';
import { FdWatch } from '../suite/harness/fd-leaks.js';
import { C_BIN, PROJECT_ROOT } from '../suite/harness/paths.js';
import { allProperties } from '../suite/properties/index.js';
import { cReference } from '../suite/registry.js';
import { defineSubject, listProperties, runSuite, SubjectError, type LeakedFd, type ResultEntry, type RunReport, type Subject, type SubjectSpec } from '../suite/index.js';
import { SOCKET_FEATURES } from '../suite/adapter.js';
import { closeLeaked, leakedSoFar, leakyAdapter, leakyServer } from './support/leaky-subject.js';
import { leftoversOf } from './support/leftovers.js';
import { unnamedReachableTypes } from './support/reachable-types.js';

const run = promisify(execFile);
const REF = (program: string): string => join(C_BIN, program);

afterAll(() => {
  closeLeaked();
  const left = leftoversOf(process.pid);
  expect(left.processes).toEqual([]);
  expect(left.sockets).toEqual([]);
});

/** One property over the subject alone (and c-reference as the oracle of single-role properties), one case at a time. */
async function runOn(subject: Subject, patterns: string[], more: { implementations?: typeof cReference[]; servers?: string[]; clients?: string[] } = {}): Promise<RunReport> {
  return runSuite({ implementations: more.implementations ?? [], subjects: [subject], propertyPatterns: patterns, servers: more.servers, clients: more.clients, runs: 2, seed: 3, jobs: 1, shrink: false, blameReruns: 1 });
}

const statuses = (report: RunReport): string[] => report.results.map((r) => `${r.property} ${r.socketType}/${r.address} ${r.server}×${r.client}: ${r.status}${r.message ? ` (${r.message.slice(0, 300)})` : ''}`);

describe('defineSubject, through runSuite', () => {
  it('command templates over c-reference\'s binaries run the seed properties', async () => {
    const subject = defineSubject({
      name: 'api-commands',
      server: { command: [REF('reference-server'), '{path}', '{payload}'], withoutPayload: { command: [REF('reference-server'), '{path}'] } },
      client: { command: [REF('reference-client'), '{path}'] },
    });
    expect(subject.implementation.server?.commandWithoutPayload?.command).toEqual([REF('reference-server'), '{path}']);
    const report = await runOn(subject, ['delivery.*']);
    expect(report.results.length).toBe(2);
    expect(statuses(report)).toEqual([
      'delivery.payload stream/pathname api-commands×api-commands: pass',
      'delivery.default-message stream/pathname api-commands×api-commands: pass',
    ]);
    // A subject made in code has no file a replay line could name.
    expect(report.results.every((r) => !(r.replay ?? '').includes('--subject'))).toBe(true);
  });

  it('in-process seed roles and an in-process driver adapter run in the harness process', async () => {
    const subject = defineSubject({ name: 'api-in-process', server: { inProcess: runServer }, client: { inProcess: runClient }, driver: { adapter: createTsNetAdapter } });
    expect(subject.implementation.driver?.inProcess).toBe(createTsNetAdapter);
    expect(subject.implementation.server).toMatchObject({ payload: true });
    const report = await runOn(subject, ['delivery.payload', 'stream.half-close']);
    // No command anywhere: every pass here ran in the harness's process. ts-net's adapter has no seqpacket (its hello says so).
    expect(statuses(report)).toEqual([
      'delivery.payload stream/pathname api-in-process×api-in-process: pass',
      'stream.half-close stream/pathname api-in-process×api-in-process: pass',
      expect.stringMatching(/^stream\.half-close seqpacket\/pathname api-in-process×api-in-process: unsupported \(not applicable: server api-in-process's driver has no seqpacket sockets/),
    ]);
  });

  it('a manifest object runs as the same manifest file would, and combines with an in-process part', async () => {
    const manifest = {
      name: 'api-manifest',
      description: 'c-reference, as a manifest object',
      server: { command: [REF('reference-server'), '{path}', '{payload}'], withoutPayload: { command: [REF('reference-server'), '{path}'] } },
      driver: { command: [REF('reference-driver')] },
    };
    const subject = defineSubject({ name: 'api-manifest', manifest, client: { inProcess: runClient } });
    expect(subject.implementation.description).toBe('c-reference, as a manifest object');
    expect(subject.implementation.client?.inProcess).toBe(runClient);
    expect(subject.implementation.client?.command).toBeUndefined();
    const report = await runOn(subject, ['delivery.default-message', 'stream.half-close']);
    expect(statuses(report)).toEqual([
      'delivery.default-message stream/pathname api-manifest×api-manifest: pass',
      'stream.half-close stream/pathname api-manifest×api-manifest: pass',
      'stream.half-close seqpacket/pathname api-manifest×api-manifest: pass',
    ]);
  });

  it('a subject named like an implementation of the run is refused', async () => {
    const subject = defineSubject({ name: 'c-reference', client: { inProcess: runClient } });
    await expect(runSuite({ implementations: [cReference], subjects: [subject], propertyPatterns: ['delivery.payload'], runs: 1 })).rejects.toThrow(/defineSubject\("c-reference"\): name: "c-reference" is already taken/);
  });
});

describe('defineSubject refuses a bad subject, naming the field', () => {
  const server = { command: [REF('reference-server'), '{path}'] };
  const bad: Array<[string, SubjectSpec, RegExp]> = [
    ['a manifest that is not an object', { name: 'x', manifest: 'x.json' }, /: manifest: not an object/],
    ['an unknown field in the manifest', { name: 'x', manifest: { client: { command: [REF('reference-client')], shell: true } } }, /: manifest\.client\.shell: unknown field/],
    ['an unknown placeholder in the manifest', { name: 'x', manifest: { server: { command: [REF('reference-server'), '{socket}'] } } }, /: manifest\.server\.command\[1\]: unknown placeholder \{socket\}/],
    ['a payload command without its no-payload twin', { name: 'x', manifest: { server: { command: [REF('reference-server'), '{path}', '{payload}'] } } }, /: manifest\.server\.withoutPayload: the command takes \{payload\}/],
    ['an expectationsFile in a manifest object', { name: 'x', manifest: { server, expectationsFile: 'e.json' } }, /: manifest\.expectationsFile: /],
    ['a manifest named otherwise', { name: 'x', manifest: { name: 'y', server } }, /: manifest\.name: "y" is not the spec's name "x"/],
    ['a role in the manifest and in the spec', { name: 'x', manifest: { server }, server }, /: server: given both/],
    ['a spec command not found', { name: 'x', client: { command: ['no-such-program-anywhere', '{path}'] } }, /: client\.command\[0\]: executable "no-such-program-anywhere" not found on PATH/],
    ['a bad name', { name: 'two words', client: { inProcess: runClient } }, /: name: must match pattern/],
    ['an unknown property in the expectations', { name: 'x', client: { inProcess: runClient }, expectations: { 'no.such': { status: 'fail', reason: 'r' } } }, /: expectations\.no\.such: no such property/],
    ['an in-process role that is not a function', { name: 'x', server: { inProcess: 'runServer' as never } }, /: server\.inProcess: not a function/],
    ['a driver role that is not one', { name: 'x', driver: { adapter: createTsNetAdapter, roles: ['both' as never] } }, /: driver\.roles\[0\]: "both" is not "server" or "client"/],
    ['no role at all', { name: 'x' }, /: server\|client\|driver: at least one/],
  ];
  it.each(bad)('%s', (_, spec, message) => {
    let thrown: unknown;
    try {
      defineSubject(spec);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(SubjectError);
    expect((thrown as Error).message).toMatch(/^defineSubject\("(x|two words)"\): /);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('listProperties', () => {
  it('lists every property as data, and filters by id globs as --property does', () => {
    const all = listProperties();
    expect(all.map((p) => p.id)).toEqual(allProperties().map((p) => p.id));
    expect(all.every((p) => !('check' in p) && !('arbitrary' in p))).toBe(true);
    const delivery = listProperties({ patterns: ['delivery.*'] }).map((p) => p.id);
    expect(delivery).toEqual(['delivery.payload', 'delivery.default-message']);
    expect(listProperties({ patterns: ['fd.kinds', 'eof.*'] }).map((p) => p.id)).toEqual(all.map((p) => p.id).filter((id) => id === 'fd.kinds' || id.startsWith('eof.')));
    expect(listProperties({ patterns: ['no.such'] })).toEqual([]);
  });
});

describe('the package surface', () => {
  it('every type a consumer meets through an entry point is exported by name', () => {
    const entries = ['suite/index.ts', 'suite/adapter.ts', 'suite/vitest.ts'];
    const { exported, unnamed } = unnamedReachableTypes(PROJECT_ROOT, entries);
    expect(exported).toBeGreaterThan(100);
    expect(unnamed).toEqual([]);
  }, 60_000);

  it('"exports" resolve to the built entries by the package name (node resolves a package\'s own name)', async () => {
    const script = `
      const api = await import('uds-conformance');
      const adapter = await import('uds-conformance/adapter');
      const pkg = (await import('uds-conformance/package.json', { with: { type: 'json' } })).default;
      console.log(JSON.stringify({ runSuite: typeof api.runSuite, defineSubject: typeof api.defineSubject, listProperties: typeof api.listProperties, writeReports: typeof api.writeReports, serveAdapter: typeof adapter.serveAdapter, features: adapter.SOCKET_FEATURES.length, name: pkg.name }));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: PROJECT_ROOT });
    expect(JSON.parse(stdout)).toEqual({ runSuite: 'function', defineSubject: 'function', listProperties: 'function', writeReports: 'function', serveAdapter: 'function', features: SOCKET_FEATURES.length, name: 'uds-conformance' });
  });
});

describe('the fd leak check of in-process subjects', () => {
  const leakOf = (r: ResultEntry): LeakedFd[] => ((r.evidence?.details as { leakedFds?: LeakedFd[] } | undefined)?.leakedFds ?? []);

  it('fails a case whose in-process server leaves an fd open, naming it, and passes the same server without the leak', async () => {
    const before = leakedSoFar();
    const leaky = await runOn(defineSubject({ name: 'api-leaky-server', server: { inProcess: leakyServer } }), ['delivery.default-message'], { implementations: [cReference], servers: ['api-leaky-server'], clients: ['c-reference'] });
    expect(leakedSoFar()).toBeGreaterThan(before);
    const [result] = leaky.results;
    expect(result).toMatchObject({ server: 'api-leaky-server', client: 'c-reference', status: 'fail' });
    expect(result!.message).toMatch(/^fd leak: 1 fd opened in the harness's process during the case was still open after it ended, with server api-leaky-server running in-process: fd \d+ -> \/dev\/null/);
    expect(leakOf(result!).map((f) => f.target)).toEqual(['/dev/null']);
    expect(result!.blame).toBe('server');

    const clean = await runOn(defineSubject({ name: 'api-clean-server', server: { inProcess: runServer } }), ['delivery.default-message'], { implementations: [cReference], servers: ['api-clean-server'], clients: ['c-reference'] });
    expect(statuses(clean)).toEqual(['delivery.default-message stream/pathname api-clean-server×c-reference: pass']);
  });

  it('fails a case whose in-process driver adapter leaks a socket, and passes the clean adapter', async () => {
    const leaky = await runOn(defineSubject({ name: 'api-leaky-adapter', driver: { adapter: leakyAdapter } }), ['stream.half-close']);
    const stream = leaky.results.find((r) => r.socketType === 'stream')!;
    expect(stream.status).toBe('fail');
    expect(stream.message).toMatch(/with server api-leaky-adapter's driver adapter and client api-leaky-adapter's driver adapter running in-process: fd \d+ -> socket:\[\d+\] \(unix stream, unconnected\)$/);
    expect(leakOf(stream)).toEqual([expect.objectContaining({ target: expect.stringMatching(/^socket:\[\d+\]$/), unix: { type: 'stream', state: 'unconnected' } })]);

    const clean = await runOn(defineSubject({ name: 'api-clean-adapter', driver: { adapter: createTsNetAdapter } }), ['stream.half-close']);
    expect(clean.results.find((r) => r.socketType === 'stream')?.status).toBe('pass');
  });

  it('checks a case only when it had the process to itself', async () => {
    // Alone: an fd opened and kept is found.
    const alone = FdWatch.begin();
    const kept = openSync('/dev/null', 'r');
    try {
      expect((await alone.finish(true))?.map((f) => f.fd)).toEqual([kept]);
    } finally {
      closeSync(kept);
    }
    // Two cases at once: a file could be either's, so neither is blamed for it; a socket the kernel
    // lists at an address in one case's dir is that case's alone.
    const dirs = await Promise.all([tmpDir({ unsafeCleanup: true }), tmpDir({ unsafeCleanup: true })]);
    const first = FdWatch.begin();
    const second = FdWatch.begin();
    const shared = openSync('/dev/null', 'r');
    const listener = native.socket('stream');
    try {
      native.bind(listener, join(dirs[0]!.path, 'l'));
      native.listen(listener);
      expect(await first.finish(true, dirs[0]!.path)).toEqual([{ fd: listener, target: expect.stringMatching(/^socket:/), unix: { type: 'stream', state: 'listening', path: join(dirs[0]!.path, 'l') } }]);
      expect(await second.finish(true, dirs[1]!.path)).toBeUndefined();
    } finally {
      closeSync(shared);
      native.close(listener);
      await Promise.all(dirs.map((d) => d.cleanup()));
    }
    // An fd closed by the end is no leak.
    const closed = FdWatch.begin();
    closeSync(openSync('/dev/null', 'r'));
    expect(await closed.finish(true)).toBeUndefined();
  });
});
