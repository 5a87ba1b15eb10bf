/**
 * Issue 10, item 6: inputs that broke real libraries are tried on every run, whatever the seed.
 * The corpora hold them (the structure each reader breaks on is really in the bytes), the arbitraries
 * generate them too, and each of their mutants is caught on several seeds, while the built-ins pass.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { INVALID_UTF8, LONG_LINE_BYTES, payloadCorpus, readerCorpus } from '../fixtures/corpora/payloads.js';
import { LEADING_DASH_NAMES, NUL_PATHS, TRAILING_SLASH_NAMES } from '../fixtures/corpora/paths.js';
import { mutants } from '../fixtures/mutants/index.js';
import { liveProcessCount } from '../suite/harness/process.js';
import { nulPathArb, socketPathArb, structuredTextArb } from '../suite/properties/arbitraries.js';
import { deliveryPayload } from '../suite/properties/delivery.js';
import { allProperties } from '../suite/properties/index.js';
import { pathForms } from '../suite/properties/paths.js';
import { cOriginal, cReference, tsNative, tsNet } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { leftoversOf } from './support/leftovers.js';

const properties = allProperties();
const EDGE_PROPERTIES = ['path.embedded-nul', 'path.full-sun-path-server', 'path.full-sun-path-client', 'path.trailing-slash-server', 'path.trailing-slash-client'];
const READER_MUTANTS = ['client-line-buffer-64k', 'client-utf8-replace', 'client-crlf-to-lf', 'client-drops-partial-line'];
const PATH_MUTANTS = ['client-dash-option', 'server-strips-trailing-slash', 'client-strips-trailing-slash', 'driver-server-nul-prefix', 'driver-client-nul-prefix', 'server-truncates-long-path', 'client-truncates-path'];
/** Seeds that share nothing: a mutant must be caught on each, by the examples alone (runs: 1). */
const SEEDS = [1, 424242, 2026];

const isUtf8 = (b: Uint8Array): boolean => {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(b);
    return true;
  } catch {
    return false;
  }
};
const longestLine = (b: Uint8Array): number => Math.max(...Buffer.from(b).toString('latin1').split('\n').map((l) => l.length));
const hasCrlf = (b: Uint8Array): boolean => Buffer.from(b).includes('\r\n');
const endsWithoutNewline = (b: Uint8Array): boolean => b.length > 0 && b[b.length - 1] !== 0x0a;

afterAll(() => {
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

describe('the corpora hold the structure readers break on', () => {
  const examples = deliveryPayload.examples!;
  it('delivery.payload tries every reader-breaking entry', () => {
    for (const entry of readerCorpus()) expect(examples).toContainEqual(entry.bytes);
    expect(payloadCorpus().length).toBe(examples.length);
  });
  it('a run with no newline past 64 KiB, invalid UTF-8, CRLF and a final line without a newline', () => {
    expect(examples.some((b) => longestLine(b) > 64 * 1024)).toBe(true);
    expect(examples.some((b) => !isUtf8(b) && isUtf8(Buffer.from(b).subarray(0, 10)))).toBe(true);
    expect(examples.some((b) => hasCrlf(b) && isUtf8(b))).toBe(true);
    expect(examples.some((b) => endsWithoutNewline(b) && Buffer.from(b).includes('\n') && isUtf8(b))).toBe(true);
  });
  it('every INVALID_UTF8 sequence is ill-formed', () => {
    for (const b of INVALID_UTF8) expect(isUtf8(b)).toBe(false);
  });
  it('the generated text covers each structure too', () => {
    const sample = fc.sample(structuredTextArb, { numRuns: 400, seed: 7 });
    expect(sample.some((b) => longestLine(b) > LONG_LINE_BYTES - 8192)).toBe(true);
    expect(sample.some((b) => !isUtf8(b))).toBe(true);
    expect(sample.some(hasCrlf)).toBe(true);
    expect(sample.some(endsWithoutNewline)).toBe(true);
  });
  it('paths: a leading "-" in path.forms, and the NUL and trailing-slash edges as examples', () => {
    const dashed = pathForms.examples!.filter((s) => s.chars[0] === '-').map((s) => s.chars.join(''));
    for (const name of LEADING_DASH_NAMES) expect(dashed).toContain(name);
    expect(fc.sample(socketPathArb, { numRuns: 300, seed: 3 }).some((s) => s.form === 'relative' && s.chars[0] === '-')).toBe(true);
    const byId = new Map(properties.map((p) => [p.id, p]));
    expect(byId.get('path.embedded-nul')!.examples).toEqual([...NUL_PATHS]);
    expect(byId.get('path.trailing-slash-server')!.examples).toEqual([...TRAILING_SLASH_NAMES]);
    for (const p of fc.sample(nulPathArb, { numRuns: 50, seed: 5 })) expect(p.prefix).not.toBe('');
  });
});

describe('each edge mutant is caught on every seed, by the examples', () => {
  const byName = new Map(mutants().map((m) => [m.implementation.name, m]));
  for (const file of [...READER_MUTANTS, ...PATH_MUTANTS]) {
    const mutant = byName.get(`mutant-${file}`)!;
    it.concurrent(`${file}: ${mutant.caughtBy.join(', ')}`, async () => {
      const impl = mutant.implementation;
      const role = impl.server ? 'server' : impl.client ? 'client' : impl.driver!.roles![0]!;
      for (const seed of SEEDS) {
        const { results } = await runSuite({
          properties,
          implementations: [impl, cReference],
          propertyPatterns: mutant.caughtBy,
          servers: [role === 'server' ? impl.name : cReference.name],
          clients: [role === 'client' ? impl.name : cReference.name],
          runs: 1,
          seed,
          shrink: false,
          caseDeadlineMs: 10_000,
          jobs: 1,
        });
        expect(results.length).toBeGreaterThan(0);
        for (const r of results) expect({ seed, property: r.property, status: r.status }).toEqual({ seed, property: r.property, status: 'fail' });
      }
    });
  }
});

describe('the built-ins meet the edge requirements', () => {
  it('c-reference, ts-net and ts-native pass every edge property in every pairing', async () => {
    const { results } = await runSuite({ properties, implementations: [cReference, tsNet, tsNative], propertyPatterns: EDGE_PROPERTIES, runs: 3, seed: 11, jobs: 2 });
    expect(results.length).toBeGreaterThan(EDGE_PROPERTIES.length);
    expect(results.filter((r) => r.status !== 'pass').map((r) => `${r.property} ${r.server} × ${r.client}: ${r.status} ${r.evidence?.message ?? r.reason ?? ''}`)).toEqual([]);
  });
  it('c-original: the driver property is unsupported (no driver, and no argv can hold a NUL)', async () => {
    const { results } = await runSuite({ properties, implementations: [cOriginal, cReference], propertyPatterns: ['path.embedded-nul'], runs: 1, seed: 11, jobs: 2 });
    const withOriginal = results.filter((r) => r.server === 'c-original' || r.client === 'c-original');
    expect(withOriginal.length).toBeGreaterThan(0);
    for (const r of withOriginal) expect([r.status, r.reason]).toEqual(['unsupported', expect.stringMatching(/has no driver/)]);
  });
});
