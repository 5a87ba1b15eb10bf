/**
 * Self-test: every property must be shown to catch a bug. Each mutant (one bug each) is paired with the
 * oracle peer (c-reference) and every property it is meant to fail is run on it, over every socket type
 * and address kind the property applies to: each of those units must fail (a property with three
 * variants that catches the bug in one has not caught it in the other two). The same units on
 * c-reference × c-reference are the control that must pass.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mutants } from '../fixtures/mutants/index.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { allProperties } from '../suite/properties/index.js';
import { cReference } from '../suite/registry.js';
import { runSuite, type RunSuiteOptions } from '../suite/run.js';
import { leftoversOf } from './support/leftovers.js';

const properties = allProperties();
const byId = new Map(properties.map((p) => [p.id, p]));

/** Every unit of these properties, `id [type, address]`: the mutant runs both drivers from one C source, so all apply. */
function unitsOf(ids: readonly string[]): string[] {
  return ids
    .flatMap((id) => {
      const p = byId.get(id);
      if (!p) throw new Error(`caughtBy names ${id}, which is not a property`);
      return (p.socketTypes ?? ['stream']).flatMap((type) => (p.addresses ?? ['pathname']).map((address) => `${id} [${type}, ${address}]`));
    })
    .sort();
}
const unitOf = (r: { property: string; socketType: string; address: string }): string => `${r.property} [${r.socketType}, ${r.address}]`;
const options = (overrides: RunSuiteOptions): RunSuiteOptions => ({
  properties,
  runs: 25,
  seed: 20261123,
  shrink: false,
  caseDeadlineMs: 10_000,
  jobs: 2,
  ...overrides,
});

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

describe('every mutant is caught by the property meant to catch it', () => {
  const all = mutants();
  it('covers every property of the core set with at least one mutant', () => {
    const caught = new Set(all.flatMap((m) => m.caughtBy));
    const untested = properties.map((p) => p.id).filter((id) => !caught.has(id));
    expect(untested).toEqual([]);
  });

  for (const mutant of all) {
    const impl = mutant.implementation;
    const role = impl.server ? 'server' : impl.client ? 'client' : impl.driver!.roles![0]!;
    it.concurrent(`${impl.name} (${mutant.bug})`, async () => {
      const { results } = await runSuite(
        options({
          implementations: [impl, cReference],
          propertyPatterns: mutant.caughtBy,
          servers: [role === 'server' ? impl.name : cReference.name],
          clients: [role === 'client' ? impl.name : cReference.name],
        }),
      );
      // One result per unit, so at least one per property in caughtBy; none left unsupported or missing.
      expect(results.map(unitOf).sort()).toEqual(unitsOf(mutant.caughtBy));
      expect(results.length).toBeGreaterThanOrEqual(mutant.caughtBy.length);
      for (const r of results) {
        expect({ unit: unitOf(r), status: r.status }).toEqual({ unit: unitOf(r), status: 'fail' });
        expect(r.evidence?.message).toBeTruthy();
        expect(r.replay).toContain(`--property ${r.property}`);
      }
    });
  }

  it('the same properties pass on c-reference × c-reference (the control)', async () => {
    const ids = [...new Set(all.flatMap((m) => m.caughtBy))];
    const { results } = await runSuite(options({ implementations: [cReference], propertyPatterns: ids }));
    expect(results.map(unitOf).sort()).toEqual(unitsOf(ids));
    expect(results.map((r) => [unitOf(r), r.status])).toEqual(results.map((r) => [unitOf(r), 'pass']));
  });
});
