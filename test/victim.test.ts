/**
 * No victim file is ever harmed (issue 12). A victim file of the test's own, outside every case dir,
 * with known bytes and mode, sits behind a symlink at the socket path in every case of
 * path.non-socket-kept, over every built-in server. The property checks it after each case; this test
 * checks it again after each case (independently of the property's verdict) and once more after the
 * whole run. A control server that writes through the symlink shows that both checks see the harm.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dir as tmpDir } from 'tmp-promise';
import { afterAll, expect, it } from 'vitest';
import { C_BIN } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import type { Implementation } from '../suite/model/types.js';
import { nonSocketKept, victimHarm, type NonSocketInput, type Victim } from '../suite/properties/path-ownership.js';
import type { Property } from '../suite/properties/property.js';
import { builtinImplementations } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { leftoversOf } from './support/leftovers.js';

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

const VICTIM_BYTES = Buffer.from('victim: must never be removed, truncated, written or chmodded\n');
const VICTIM_MODE = 0o640;

async function makeVictim(dir: string): Promise<Victim> {
  const victim = { path: join(dir, 'victim.txt'), bytes: VICTIM_BYTES, mode: VICTIM_MODE };
  await writeFile(victim.path, victim.bytes);
  await chmod(victim.path, victim.mode);
  return victim;
}

/**
 * path.non-socket-kept with the symlink to `victim` at the path in every case (the other kinds of
 * file are the property's own business), and a record of the victim's state after each case.
 */
function victimCases(victim: Victim, seen: Array<{ server: string; harm: string[] }>): Property<NonSocketInput> {
  const base = nonSocketKept(async () => ({ victim, release: async () => {} }));
  return {
    ...base,
    arbitrary: base.arbitrary.map((input) => ({ ...input, kind: 'victim-symlink' as const })),
    examples: base.examples!.filter((input) => input.kind === 'victim-symlink'),
    async check(input, ctx) {
      try {
        return await base.check(input, ctx);
      } finally {
        seen.push({ server: ctx.server.name, harm: await victimHarm(victim) });
      }
    },
  };
}

const options = { runs: 4, seed: 20261201, shrink: false, caseDeadlineMs: 10_000, jobs: 2 };

it('no built-in server harms a victim file behind a symlink at its path, in any case', async () => {
  const tmp = await tmpDir({ unsafeCleanup: true });
  try {
    const victim = await makeVictim(tmp.path);
    const seen: Array<{ server: string; harm: string[] }> = [];
    const builtins = builtinImplementations();
    const { results } = await runSuite({ ...options, implementations: builtins, properties: [victimCases(victim, seen)] });
    const servers = builtins.filter((i) => i.server).map((i) => i.name);
    // Every built-in server ran at least one case with the victim behind the path, and none harmed it.
    expect([...new Set(seen.map((s) => s.server))].sort()).toEqual([...servers].sort());
    expect(seen.filter((s) => s.harm.length > 0)).toEqual([]);
    expect(await victimHarm(victim)).toEqual([]);
    // The seed's server removes the symlink (its expected failure); the victim behind it survives that too.
    expect(results.map((r) => [r.server, r.status]).sort()).toEqual(
      servers.map((s) => [s, s === 'c-original' ? 'expected-fail' : 'pass']).sort(),
    );
  } finally {
    await tmp.cleanup();
  }
});

it('a server that writes through the symlink is caught, by the property and by the checks after it', async () => {
  const tmp = await tmpDir({ unsafeCleanup: true });
  try {
    const victim = await makeVictim(tmp.path);
    const seen: Array<{ server: string; harm: string[] }> = [];
    // The reference server, after appending a byte to whatever a symlink at its path leads to.
    const harmful: Implementation = {
      name: 'writes-through-symlink',
      kind: 'mutant',
      description: 'appends to the file a symlink at its path points to, then runs the reference server',
      server: {
        command: { command: ['/bin/sh', '-c', 'if [ -L "$1" ]; then printf X >> "$1"; fi; exec "$0" "$@"', join(C_BIN, 'reference-server'), '{path}', '{payload}'] },
        commandWithoutPayload: { command: ['/bin/sh', '-c', 'if [ -L "$1" ]; then printf X >> "$1"; fi; exec "$0" "$@"', join(C_BIN, 'reference-server'), '{path}'] },
        payload: true,
      },
      expectations: {},
    };
    const builtins = builtinImplementations();
    // One case at a time: every case of this unit shares the one victim file, and cases of a unit may
    // otherwise run side by side (plan/speculation.ts), each appending its byte.
    const { results } = await runSuite({ ...options, jobs: 1, implementations: [harmful, ...builtins], servers: [harmful.name], properties: [victimCases(victim, seen)] });
    expect(results.map((r) => r.status)).toEqual(['fail']);
    expect(results[0]!.evidence!.message).toContain(`the victim file ${victim.path}'s bytes changed at offset ${VICTIM_BYTES.length}`);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[0]!.harm).toEqual([`the victim file ${victim.path}'s bytes changed at offset ${VICTIM_BYTES.length} (${VICTIM_BYTES.length + 1} bytes now, ${VICTIM_BYTES.length} before)`]);
    expect(await victimHarm(victim)).not.toEqual([]);
  } finally {
    await tmp.cleanup();
  }
});
