/**
 * The fd properties over every driver pairing: c-reference's C driver (a process), ts-native's adapter
 * (in-process where the property allows, else served as a process) and python-socket's driver (a
 * process) with one another. Every fd property holds on every pairing, except python-socket's known
 * fd.cloexec (its recv_fds drops the flags, CPython gh-107898); ts-net's driver answers `fds: false`,
 * so its fd units are unsupported, with that reason, and never start.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { addressesOf, socketTypesOf } from '../suite/plan/plan.js';
import { allProperties } from '../suite/properties/index.js';
import { cReference, tsNative, tsNet } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { loadSubject } from '../suite/subjects/manifest.js';
import { leftoversOf } from './support/leftovers.js';
import { pythonFirstOnPath } from './support/python-path.js';

// python-socket's driver starts python3 itself, not a pyenv shim in front of it.
pythonFirstOnPath();

const properties = allProperties();
const fdProperties = properties.filter((p) => p.id.startsWith('fd.'));
// One unit per property × socket type × address kind, on each pairing.
const fdUnits = fdProperties.reduce((n, p) => n + socketTypesOf(p).length * addressesOf(p).length, 0);

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

const python = loadSubject(join(PROJECT_ROOT, 'fixtures', 'subjects', 'python-socket', 'manifest.json'), properties.map((p) => p.id));
const drivers = ['c-reference', 'ts-native', 'python-socket'];

it('the fd properties are the twelve driver properties that need fd passing', () => {
  expect(fdProperties.length).toBe(12);
  expect(fdProperties.every((p) => p.via === 'driver' && p.needs?.fds)).toBe(true);
});

/** Every fd unit with `server` serving, with each of the four clients (the same seed, so the same units as one run of all). */
async function fdResultsServedBy(server: string) {
  const { results } = await runSuite({
    implementations: [cReference, tsNative, tsNet],
    subjects: [python],
    properties,
    propertyPatterns: ['fd.*'],
    servers: [server],
    runs: 3,
    seed: 20261201,
    // No fixed jobs: python-socket's driver mostly waits (its start, its answers), and the adaptive
    // default (suite/plan/admission.ts) overlaps those waits while the machine's CPU has room.
  });
  expect(results.every((r) => r.server === server)).toBe(true);
  return results;
}

/** ts-net's fd units never start: its driver answers `fds: false`. */
function expectTsNetUnsupported(withTsNet: Array<{ status: string; runs: number; reason?: string }>): void {
  for (const r of withTsNet) {
    expect(r.status).toBe('unsupported');
    expect(r.runs).toBe(0);
    // fd.rlimit-ctrunc also lists what else it lacks (setrlimit, mkfd, ...).
    expect(r.reason).toMatch(/ts-net's driver (has no seqpacket sockets and )?does not pass fds( and lacks [a-z, -]+)? \(its hello answer(, in-process and as a process)?\)/);
  }
}

// One test per server, side by side: each is a third of the pairings, far from the test timeout that
// the whole matrix in one test met under a loaded full run.
describe.concurrent('every fd property passes over c-reference, ts-native and python-socket with one another', () => {
  for (const server of drivers) {
    it(`served by ${server}`, async () => {
      const results = await fdResultsServedBy(server);
      const among = results.filter((r) => drivers.includes(r.client));
      expect(among.length).toBe(fdUnits * drivers.length);
      const verdicts = among.map((r) => {
        // uid 65534 cannot run an interpreter installed under /root (pyenv here): the harness says so.
        if (r.property === 'fd.capability' && r.client === 'python-socket' && r.status === 'unsupported') {
          expect(r.reason).toMatch(/cannot be started as this user/);
          return `${r.property} ${r.server} × ${r.client}: skipped here`;
        }
        // The plan reads ts-native's in-process hello, which leaves out setrlimit (it would limit the
        // harness's own process), though the process driver that fd.rlimit-ctrunc runs has it.
        if (r.property === 'fd.rlimit-ctrunc' && r.status === 'unsupported' && /ts-native's driver lacks setrlimit/.test(r.reason ?? '')) {
          return `${r.property} ${r.server} × ${r.client}: skipped here`;
        }
        const want = r.property === 'fd.cloexec' && r.client === 'python-socket' ? 'expected-fail' : 'pass';
        return `${r.property} ${r.server} × ${r.client}: ${r.status === want ? 'as expected' : `${r.status} (${r.message})`}`;
      });
      expect(verdicts.filter((v) => !/as expected|skipped here/.test(v))).toEqual([]);
      const withTsNet = results.filter((r) => r.client === 'ts-net');
      expect(withTsNet.length).toBe(fdUnits);
      expectTsNetUnsupported(withTsNet);
    });
  }

  it('served by ts-net: unsupported with every client, never started', async () => {
    const results = await fdResultsServedBy('ts-net');
    // With the three drivers' clients above, every pairing with ts-net on a side: 2 × 4 - 1 of them.
    expect(results.length).toBe(fdUnits * 4);
    expectTsNetUnsupported(results);
  });
});
