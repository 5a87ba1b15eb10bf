/**
 * Process drivers kept from one case to the next (issue 17): starting a C driver (spawn, hello, quit,
 * reap) costs several milliseconds, more than a whole generated sequence on it. While a reuse scope
 * is open (withDriverReuse, which the runner opens around a unit's cases), a case asks for a driver
 * with leaseDriver; when the case passed, a driver that is still alive and lists `reset` in hello's
 * commands is reset (every name closed, setrlimit undone, its cwd the pool's own empty dir) and
 * parked, and the next case that asks for the same driver (label and command) takes it with that
 * case's deadline. When the last open scope ends every parked driver is quit, so none outlives the
 * scopes. With no scope open, or for a driver without `reset`, a lease is the case's own start,
 * stopped with the case.
 *
 * Independence: what a case can see of a driver's past is what reset leaves, i.e. its process (pid,
 * the name counter, which never reuses a name) and the fds it inherited; not a socket, an fd, a limit
 * or a cwd of an earlier case. A driver whose case failed, or that was killed, is never parked.
 *
 * One pool for every open scope, not one per scope: units that overlap share the oracle's drivers,
 * and no AsyncLocalStorage is needed (its promise hooks cost every await of the run).
 */
import { setMaxListeners } from 'node:events';
import { makeCaseDir, removeCaseDir } from '../harness/casedir.js';
import { launcher } from '../harness/launcher.js';
import type { DriverSpec } from '../model/types.js';
import type { Driver } from './driver.js';
import { helloOrStop, startDriver, type DriverHost } from './start.js';

/** The drivers kept between cases, by what they are (key). */
class DriverPool {
  private readonly parked = new Map<string, Driver[]>();
  private readonly ended = new WeakSet<Driver>();
  /** Keys whose driver does not list reset: a case starts its own. */
  readonly cannotReset = new Set<string>();
  private readonly controller = new AbortController();
  /** The pooled drivers' cwd and {dir}: the pool's own, empty (a case's dir goes with the case). */
  readonly dir = makeCaseDir();

  /** `extraEnv`: the run's extra environment for subject processes (the runner's caseOptions.env). */
  constructor(readonly extraEnv: Record<string, string> | undefined) {
    // Every pooled process, in a case or parked, holds a few listeners on the pool's signal, removed at
    // its exit: as many as drivers are alive (a bench of 16 units in flight passed 64), not a leak.
    setMaxListeners(0, this.controller.signal);
  }

  /** A parked driver that is still alive, if any. */
  take(key: string): Driver | undefined {
    const list = this.parked.get(key) ?? [];
    for (let d = list.pop(); d; d = list.pop()) if (!this.ended.has(d)) return d;
    return undefined;
  }

  hasEnded(driver: Driver): boolean {
    return this.ended.has(driver);
  }

  park(key: string, driver: Driver): void {
    // Off the case's deadline, which the case's end aborts ("case finished").
    driver.useDeadline(this.controller.signal);
    const list = this.parked.get(key) ?? [];
    list.push(driver);
    this.parked.set(key, list);
  }

  /**
   * A driver for the pool: its process lives with the pool's signal, not a case's, but its hello is
   * under the deadline of the case that asked for it.
   */
  async start(spec: DriverSpec, label: string, caseSignal: AbortSignal): Promise<Driver> {
    const host: DriverHost = { dir: this.dir, signal: this.controller.signal, extraEnv: this.extraEnv, addCleanup: () => undefined };
    const driver = await startDriver(host, spec, { transport: 'process', label, hello: false });
    void driver.exited.then(() => this.ended.add(driver));
    driver.useDeadline(caseSignal);
    await helloOrStop(driver);
    return driver;
  }

  async close(): Promise<void> {
    const drivers = [...this.parked.values()].flat();
    this.parked.clear();
    await Promise.all(drivers.map((d) => d.quit(0).catch(() => d.stop())));
    // Any driver still leased (a case that never released it) is killed with the signal.
    this.controller.abort(new Error('the driver reuse scope ended'));
    await removeCaseDir(this.dir);
  }
}

let pool: DriverPool | undefined;
let openScopes = 0;

/**
 * Runs fn with process drivers reused between its cases (leaseDriver); when the last open scope
 * settles, quits the parked ones. `extraEnv` is what the cases give their subject processes (the
 * runner's caseOptions.env, e.g. NODE_V8_COVERAGE): the pooled drivers get it too, and a scope with
 * another one than the open pool's reuses nothing.
 */
export async function withDriverReuse<T>(fn: () => Promise<T>, options: { extraEnv?: Record<string, string> } = {}): Promise<T> {
  const sameEnv = !pool || JSON.stringify(pool.extraEnv ?? {}) === JSON.stringify(options.extraEnv ?? {});
  if (!sameEnv) return fn();
  pool ??= new DriverPool(options.extraEnv);
  openScopes++;
  try {
    return await fn();
  } finally {
    if (--openScopes === 0) {
      const ending = pool;
      pool = undefined;
      await ending.close();
    }
  }
}

/** What a case gives a leased driver: its deadline. */
export interface LeaseCase {
  signal: AbortSignal;
}

export interface Lease {
  driver: Driver;
  /**
   * The case is done with the driver. `passed`: parked when it can be (else quit, as a case quits its
   * drivers after a pass); not passed: stopped.
   */
  release(passed: boolean): Promise<void>;
}

/** A lease of a driver the case started itself (and stops with its cleanup). */
export function ownLease(driver: Driver): Lease {
  return { driver, release: async (passed) => void (passed ? await driver.quit(0) : undefined) };
}

/**
 * A process driver of `spec` for one case: a parked one when the pool has it, else a new one (in the
 * pool when a scope is open and the process launcher runs, so that the driver holds no fd of the
 * harness's between cases; else `fresh`, the case's own start, stopped with the case).
 */
export async function leaseDriver(spec: DriverSpec, label: string, c: LeaseCase, fresh: () => Promise<Driver>): Promise<Lease> {
  const p = pool;
  const key = JSON.stringify([label, spec.command]);
  if (!p || !spec.command || p.cannotReset.has(key) || !launcher()) return ownLease(await fresh());
  let driver = p.take(key);
  if (!driver) {
    driver = await p.start(spec, label, c.signal);
    if (!driver.capabilities.commands.includes('reset')) {
      p.cannotReset.add(key);
      await driver.stop();
      return ownLease(await fresh());
    }
  }
  driver.useDeadline(c.signal);
  const leased = driver;
  return {
    driver: leased,
    async release(passed) {
      if (!passed || p.hasEnded(leased) || c.signal.aborted || pool !== p) return void (await leased.stop());
      // Reset at the end of the case, so that its sockets close with it; a driver that cannot is stopped.
      try {
        await leased.reset({ dir: p.dir });
      } catch {
        return void (await leased.stop());
      }
      if (!p.hasEnded(leased)) p.park(key, leased);
    },
  };
}
