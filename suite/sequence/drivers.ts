/**
 * The four drivers of a sequence case: the pairing's server and client, and the oracle's (c-reference
 * × c-reference, the kernel's answers). All four start at once, and each process driver is leased
 * (suite/driver/pool.ts): inside the runner's reuse scope a process driver that can be reset serves
 * the next case of the unit instead of a new process, which is most of a sequence's cost. An
 * in-process adapter is started by the case as usual (it is cheap, and the case's fd leak watch must
 * see it start). A failure carries both pairing drivers' transcripts and summaries, as withDrivers
 * (properties/pair.ts) gives them.
 */
import type { Address, Driver } from '../driver/driver.js';
import { leaseDriver, ownLease, type Lease } from '../driver/pool.js';
import type { CaseContext } from '../harness/context.js';
import { unitAddress, withEvidence } from '../properties/pair.js';

export interface SequenceDrivers {
  server: Driver;
  client: Driver;
  /** The unit's address, for the pairing. */
  address: Address;
  oracleServer: Driver;
  oracleClient: Driver;
  /** A second address at the unit's kind, for the oracle's listener. */
  oracleAddress: Address;
}

/** A driver of the pairing: leased when it runs as a process, the case's own when in-process. */
async function pairingDriver(ctx: CaseContext, role: 'server' | 'client'): Promise<Lease> {
  const impl = role === 'server' ? ctx.server : ctx.client;
  const transport = ctx.pairing.transport?.[role] ?? (impl.driver?.inProcess ? 'in-process' : 'process');
  if (!impl.driver || transport === 'in-process') return ownLease(await ctx.startDriver(role));
  return leaseDriver(impl.driver, `${role} ${impl.name}`, ctx, () => ctx.startDriver(role));
}

async function oracleDriver(ctx: CaseContext, label: string): Promise<Lease> {
  const impl = ctx.pairing.oracle;
  // No oracle with a process driver: startOracleDriver says why, or starts its adapter.
  if (!impl?.driver?.command) return ownLease(await ctx.startOracleDriver(label));
  return leaseDriver(impl.driver, `${label} ${impl.name}`, ctx, () => ctx.startOracleDriver(label));
}

/**
 * Starts (or leases) the four drivers, runs body, and gives them back: to the pool after a pass, else
 * stopped. A DriverError the body lets through fails the check with its errno; a CheckFailure gains
 * the pairing's transcripts and summaries.
 */
export async function withSequenceDrivers<T>(ctx: CaseContext, body: (d: SequenceDrivers) => Promise<T>): Promise<T> {
  const settled = await Promise.allSettled([pairingDriver(ctx, 'server'), pairingDriver(ctx, 'client'), oracleDriver(ctx, 'oracle server'), oracleDriver(ctx, 'oracle client')]);
  const leases = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const refused = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (refused) {
    await Promise.all(leases.map((l) => l.release(false)));
    throw refused.reason;
  }
  const [server, client, oracleServer, oracleClient] = leases.map((l) => l.driver) as [Driver, Driver, Driver, Driver];
  const address = unitAddress(ctx);
  let passed = false;
  try {
    const value = await body({ server, client, address, oracleServer, oracleClient, oracleAddress: unitAddress(ctx) });
    passed = true;
    return value;
  } catch (err) {
    throw await withEvidence(err, { server, client }, { server: server.transcript(), client: client.transcript() }, address);
  } finally {
    await Promise.all(leases.map((l) => l.release(passed)));
  }
}
