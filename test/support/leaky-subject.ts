/**
 * In-process subjects for the fd leak check (suite/harness/fd-leaks.ts), over ts-net's own roles and
 * adapter: each leaky one does exactly what ts-net does and also opens one fd per call that it never
 * closes, as a library that forgets a descriptor on some path would. The fds are kept here so the test
 * can close them when it is done (nothing outlives the test file).
 */
import { closeSync, openSync } from 'node:fs';
import * as native from '../../native/index.js';
import { createTsNetAdapter } from '../../fixtures/ts-net/driver.js';
import { runServer } from '../../fixtures/ts-net/server.js';
import type { DriverAdapter } from '../../suite/adapter.js';
import type { InProcessServerOptions } from '../../suite/index.js';

const opened: number[] = [];

/** ts-net's seed server, leaking an fd on /dev/null per session. */
export async function leakyServer(options: InProcessServerOptions): Promise<number> {
  opened.push(openSync('/dev/null', 'r'));
  return runServer(options);
}

/** ts-net's adapter, leaking an unconnected Unix stream socket at every listen. */
export function leakyAdapter(): DriverAdapter {
  const inner = createTsNetAdapter();
  return {
    ...inner,
    hello: () => inner.hello(),
    listen: async (fields) => {
      opened.push(native.socket('stream'));
      return inner.listen!(fields);
    },
  };
}

/** How many fds the leaky subjects have opened so far. */
export const leakedSoFar = (): number => opened.length;

/** Closes every fd the leaky subjects opened. */
export function closeLeaked(): void {
  for (const fd of opened.splice(0)) closeSync(fd);
}
