/**
 * Refusals: errors are recognised the way libraries print them (model/errno.ts, expectRefused), and a
 * refusal counts only from a role that works at a valid path in the same case (requireWorksFirst). A
 * server that crashes at every start, or a client that fails whatever happens, never passes one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { LIBRARY_WORDINGS, namedErrno, STRERROR, type ErrnoName } from '../suite/model/errno.js';
import { CheckFailure, type ProcessSummary } from '../suite/model/types.js';
import { allProperties } from '../suite/properties/index.js';
import { expectRefused, firstLine } from '../suite/properties/verify.js';
import { cReference, tsNative, tsNet } from '../suite/registry.js';
import { runSuite, type RunSuiteOptions } from '../suite/run.js';
import { leftoversOf } from './support/leftovers.js';

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

/** Real stderr lines, as each library prints them (each seen from that library, or its source). */
const PRINTED: Array<[ErrnoName, string, string]> = [
  ['ENOENT', 'C perror', 'connect: No such file or directory'],
  ['ENOENT', 'Node net', 'Error: connect ENOENT /tmp/x'],
  ['ENOENT', 'Python', 'FileNotFoundError: [Errno 2] No such file or directory'],
  ['ENOENT', 'Go net', 'dial unix /tmp/x: connect: no such file or directory'],
  ['ENOENT', 'Rust std', 'No such file or directory (os error 2)'],
  ['ENOENT', 'socat', '2026/01/01 10:00:00 socat[1] E connect(, AF=1 "/tmp/x", 8): No such file or directory'],
  ['ENOENT', 'ncat', 'Ncat: No such file or directory.'],
  ['ECONNREFUSED', 'C perror', 'connect: Connection refused'],
  ['ECONNREFUSED', 'Node net', 'Error: connect ECONNREFUSED /tmp/x'],
  ['ECONNREFUSED', 'Python', 'ConnectionRefusedError: [Errno 111] Connection refused'],
  ['ECONNREFUSED', 'Go net', 'dial unix /tmp/x: connect: connection refused'],
  ['ECONNREFUSED', 'Rust std', 'Connection refused (os error 111)'],
  ['ENAMETOOLONG', 'c-reference', 'socket path: File name too long (120 bytes; at most 107 fit in sun_path)'],
  ['ENAMETOOLONG', 'netcat-openbsd', 'nc: /tmp/LLLL: File name too long'],
  ['ENAMETOOLONG', 'Node, a code of its own', "Error: ENAMETOOLONG: socket path too long, bind '/tmp/LLLL'"],
  ['ENAMETOOLONG', 'Python', 'OSError: AF_UNIX path too long'],
  ['ENAMETOOLONG', 'Rust std', 'path must be shorter than SUN_LEN'],
  ['ENAMETOOLONG', 'socat', '2026/01/01 10:00:00 socat[1] E unix socket address 120 characters long, max length is 108'],
  ['EINVAL', 'Go net', 'listen unix /tmp/LLLL: bind: invalid argument'],
  ['EINVAL', 'C perror', 'bind: Invalid argument'],
];

/** Lines that must not count as naming the errno: part of a word, part of the text, another errno. */
const NOT_PRINTED: Array<[ErrnoName, string]> = [
  ['ENOENT', 'ENOENTX'],
  ['ENOENT', 'XENOENT: something'],
  ['ENOENT', 'E_NOENT'],
  ['ENOENT', 'ENOENT_NOT_AN_ERRNO'],
  ['ENOENT', 'no such file'],
  ['ENOENT', 'No such file or directoryX'],
  ['ENOENT', 'usage: server PATH [PAYLOAD]'],
  ['ENOENT', 'connect: Connection refused'],
  ['ECONNREFUSED', 'connect ECONNRESET /tmp/x'],
  ['ECONNREFUSED', 'Connection refusedness'],
  ['ENAMETOOLONG', 'ENAMETOOLONGER'],
  ['ENAMETOOLONG', 'name too long'],
  ['EINVAL', 'EINVALID argument'],
  ['EINVAL', 'invalid arguments'],
];

describe('errors are recognised as libraries print them', () => {
  for (const [name, who, line] of PRINTED) {
    it(`${who}: ${JSON.stringify(line)} names ${name}`, () => {
      expect(namedErrno(line, [name])).toBe(name);
      expect(namedErrno(`${line}\n`, ['EPERM', name])).toBe(name);
    });
  }
  for (const [name, line] of NOT_PRINTED) {
    it(`${JSON.stringify(line)} does not name ${name}`, () => {
      expect(namedErrno(line, [name])).toBeUndefined();
    });
  }

  it('holds glibc strerror texts, and each library wording names its source', () => {
    expect(STRERROR).toMatchObject({ ENOENT: 'No such file or directory', ECONNREFUSED: 'Connection refused', ENAMETOOLONG: 'File name too long', EINVAL: 'Invalid argument', EADDRINUSE: 'Address already in use', EACCES: 'Permission denied' });
    for (const wordings of Object.values(LIBRARY_WORDINGS)) for (const w of wordings) expect(w.source).toMatch(/\w/);
  });
});

const summary = (exitCode: number | null, stderr: string, signal: string | null = null): ProcessSummary => ({
  how: 'process',
  exitCode,
  signal,
  timedOut: false,
  stderr,
  stdoutLength: 0,
  durationMs: 1,
});

function failureOf(fn: () => unknown): CheckFailure {
  try {
    fn();
  } catch (err) {
    if (err instanceof CheckFailure) return err;
    throw err;
  }
  throw new Error('expected a CheckFailure');
}

describe('expectRefused with errnos', () => {
  const rule = { errno: ['ENAMETOOLONG', 'EINVAL'] as const, what: 'the server' };

  it('passes a non-zero exit naming one of them, and returns what it observed', () => {
    expect(expectRefused(summary(1, '\n  listen unix /tmp/L: bind: invalid argument\nmore\n'), rule)).toEqual({
      exit: 'exit 1',
      stderr: 'listen unix /tmp/L: bind: invalid argument',
      errno: 'EINVAL',
    });
  });

  it('observes the line that named the error, not a traceback header', () => {
    const traceback = 'Traceback (most recent call last):\n  File "client.py", line 6, in <module>\nFileNotFoundError: [Errno 2] No such file or directory\n';
    expect(expectRefused(summary(1, traceback), { errno: ['ENOENT'], what: 'the client' }).stderr).toBe('FileNotFoundError: [Errno 2] No such file or directory');
  });

  it('fails a usage error, an exit 0, a signal, and names what it wanted', () => {
    const usage = failureOf(() => expectRefused(summary(2, 'usage: server PATH [PAYLOAD]\n'), rule));
    expect(usage.evidence.message).toBe('the server ended with exit 2 and stderr "usage: server PATH [PAYLOAD]\\n"');
    expect(usage.evidence.expected).toBe('non-zero exit, stderr naming ENAMETOOLONG ("File name too long") or EINVAL ("Invalid argument")');
    expect(failureOf(() => expectRefused(summary(0, 'File name too long\n'), rule)).evidence.actual).toMatch(/^exit 0/);
    expect(failureOf(() => expectRefused(summary(null, 'File name too long\n', 'SIGSEGV'), rule)).evidence.actual).toMatch(/^killed by SIGSEGV/);
  });

  it('firstLine skips blank lines and caps the length', () => {
    expect(firstLine('\n\n  x: y  \nz')).toBe('x: y');
    expect(firstLine('a'.repeat(500))).toHaveLength(200);
    expect(firstLine('')).toBe('');
  });
});

const options = (overrides: RunSuiteOptions): RunSuiteOptions => ({
  properties: allProperties(),
  runs: 5,
  seed: 2026,
  shrink: false,
  caseDeadlineMs: 10_000,
  jobs: 2,
  ...overrides,
});

const REFUSALS = ['path.too-long-server', 'path.too-long-client', 'connect.enoent', 'connect.econnrefused'];
const mutant = (name: string) => mutants().find((m) => m.implementation.name === name)!.implementation;

describe('a refusal counts only from a role that works at a valid path', () => {
  it('a server that crashes with a usage error at every start never passes a refusal property', async () => {
    const crashing = mutant('mutant-server-usage-error');
    const { results } = await runSuite(options({ implementations: [crashing, cReference], servers: [crashing.name], clients: [cReference.name], propertyPatterns: REFUSALS }));
    const serverScoped = results.filter((r) => r.server === crashing.name);
    expect(serverScoped.map((r) => r.property)).toEqual(['path.too-long-server']);
    for (const r of serverScoped) {
      expect(r.status).toBe('fail');
      expect(r.message).toMatch(/^the server does not work with a valid path: it never listened at "[^"]+": .*\(exit 2, stderr "usage: server PATH \[PAYLOAD\]"\)$/);
      expect(r.evidence?.server?.exitCode).toBe(2);
      expect(r.evidence?.details?.precondition).toMatch(/^a session at the valid path /);
    }
  }, 60_000);

  it('a client that always fails with "connect: No such file or directory" passes neither connect property', async () => {
    const failing = mutant('mutant-client-always-enoent');
    const { results } = await runSuite(options({ implementations: [failing, cReference], servers: [cReference.name], clients: [failing.name], propertyPatterns: REFUSALS }));
    const clientScoped = results.filter((r) => r.client === failing.name);
    expect(clientScoped.map((r) => r.property).sort()).toEqual(['connect.econnrefused', 'connect.enoent', 'path.too-long-client']);
    for (const r of clientScoped) {
      expect(r.status).toBe('fail');
      expect(r.message).toBe('the client does not work with a valid path: it printed 0 bytes, 25 fewer than the 25 sent; it ended with exit 1 and stderr "connect: No such file or directory"');
      expect(r.evidence?.client?.exitCode).toBe(1);
      expect(r.evidence?.bytes?.actualLength).toBe(0);
    }
  }, 90_000);

  it('a working implementation passes, and the result records the exit and the first stderr line of the refusal', async () => {
    const { results } = await runSuite(options({ implementations: [cReference, tsNet, tsNative], propertyPatterns: REFUSALS, runs: 2 }));
    const refusals = results.filter((r) => REFUSALS.includes(r.property));
    expect(refusals.length).toBe(12);
    for (const r of refusals) {
      expect({ property: r.property, server: r.server, client: r.client, status: r.status }).toEqual({ property: r.property, server: r.server, client: r.client, status: 'pass' });
      const errno = r.property.startsWith('path.') ? 'ENAMETOOLONG' : r.property === 'connect.enoent' ? 'ENOENT' : 'ECONNREFUSED';
      expect(r.observed).toMatchObject({ exit: 'exit 1', errno, worksFirst: { bytes: expect.any(Number) } });
      expect(namedErrno(String(r.observed!.stderr), [errno])).toBe(errno);
    }
  }, 90_000);
});
