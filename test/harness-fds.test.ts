/**
 * The harness itself must not leak: after a full run (every property, every pairing of the
 * built-ins, in-process roles included) it holds exactly the fds it held before.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { expect, it } from 'vitest';
import { liveProcessCount } from '../suite/harness/process.js';
import { allProperties } from '../suite/properties/index.js';
import { builtinImplementations } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';

function openFds(): Map<string, string> {
  const fds = new Map<string, string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      fds.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the fd readdir itself used
    }
  }
  return fds;
}

it('holds no more fds after a full run than before', async () => {
  const options = { implementations: builtinImplementations(), properties: allProperties(), runs: 3, seed: 99, jobs: 2 };
  // One warm-up run first: lazily created fds of the runtime (thread pool, inotify, the addon) are not
  // leaks. It includes an fd property, so in-process drivers have run once too.
  await runSuite({ ...options, propertyPatterns: ['delivery.default-message', 'fd.kinds'] });
  const before = openFds();
  const { results } = await runSuite(options);
  expect(results.filter((r) => r.status === 'error')).toEqual([]);
  expect(liveProcessCount()).toBe(0);
  const after = openFds();
  const added = [...after].filter(([fd, target]) => before.get(fd) !== target);
  expect(added).toEqual([]);
});
