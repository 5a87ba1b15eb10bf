/**
 * A known failure is a promise: a run that passes it reports an unexpected pass, unless the failure is
 * marked intermittent (reached only by some generated inputs or a race), when a pass is a plain pass
 * and the expectation is never stale.
 */
import { expect, it } from 'vitest';
import { staleExpectations } from '../suite/plan/blame.js';
import { allProperties } from '../suite/properties/index.js';
import { cReference } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import type { Expectation, Implementation } from '../suite/model/types.js';

const withExpectation = (e: Expectation): Implementation => ({ ...cReference, name: 'c-reference-expecting', expectations: { 'delivery.default-message': e } });

it('a known failure that does not happen is an unexpected pass, or a pass when intermittent', async () => {
  const reason = 'a failure c-reference does not have';
  for (const [intermittent, status] of [[false, 'unexpected-pass'], [true, 'pass']] as const) {
    const subject = withExpectation({ status: 'fail', reason, ...(intermittent ? { intermittent } : {}) });
    const { results } = await runSuite({ implementations: [subject, cReference], properties: allProperties(), propertyPatterns: ['delivery.default-message'], servers: [subject.name], clients: [cReference.name], runs: 1, seed: 1, jobs: 1 });
    expect(results.map((r) => r.status)).toEqual([status]);
    expect(staleExpectations(subject, results).length).toBe(intermittent ? 0 : 1);
  }
});
