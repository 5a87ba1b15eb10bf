/**
 * The two drivers of a unit and the unit's address, for properties that make socket calls step by step
 * (packets, abstract names, credentials): gVisor's socket-pair factories, with the socket type and the
 * address kind as the unit's parameters. `withDrivers` starts the drivers the plan chose, runs the
 * property's steps, and quits them; any failure carries both transcripts and both summaries, so a
 * property states only its requirement.
 */
import type { Address, Driver } from '../driver/driver.js';
import { DriverError } from '../driver/driver.js';
import type { CaseContext } from '../harness/context.js';
import { readUnixTable } from '../harness/readiness.js';
import { CheckFailure, type Evidence, type ProcessSummary } from '../model/types.js';

/** The unit's address: an absolute path in the case dir, or a fresh abstract name. */
export function unitAddress(ctx: CaseContext, abstractSuffix?: Uint8Array): Address {
  // Absolute: an in-process driver shares the harness's cwd, a process driver runs in the case dir.
  return ctx.address === 'abstract' ? { abstract: ctx.abstractName(abstractSuffix) } : { path: ctx.resolve(ctx.socketName()) };
}

/** An address as evidence shows it: the path, or `@` and the name with each NUL as `\0` (the exact bytes). */
export function addressText(address: Address): string {
  if (typeof address === 'string') return address;
  if ('path' in address) return address.path;
  return `@${Buffer.from(address.abstract).toString('latin1').replace(/\0/g, '\\0')} (${address.abstract.length} bytes after the leading NUL)`;
}

/**
 * The /proc/net/unix entries whose name starts with the abstract name's bytes, as the kernel prints
 * them (`@` for each NUL, the leading one included): what shows a name padded with NULs.
 */
export function abstractEntries(name: Uint8Array): string[] {
  const printed = `@${Buffer.from(name).toString('latin1').replace(/\0/g, '@')}`;
  return readUnixTable()
    .filter((e) => e.path.startsWith(printed))
    .map((e) => `${JSON.stringify(e.path)} (${e.path.length - 1} bytes after the leading NUL, inode ${e.inode}${e.listening ? ', listening' : ''})`);
}

export interface Drivers {
  server: Driver;
  client: Driver;
  /** The unit's address (unitAddress). */
  address: Address;
  /** Both transcripts so far, for a failure's details. */
  transcripts(): Record<string, string[]>;
}

export interface WithDriversOptions {
  /** Start only these roles (a server-scoped property needs one driver); default both. */
  roles?: Array<'server' | 'client'>;
  /** Run the client driver as this uid/gid (the property needs isolation: 'process'). */
  clientUid?: number;
  clientGid?: number;
  /** Appended to the abstract name (trailing NULs included). */
  abstractSuffix?: Uint8Array;
}

/** What a started-but-unused role holds: a driver that refuses everything, so a typo cannot pass. */
const absent = (role: string): Driver =>
  new Proxy({} as Driver, {
    get(_t, key) {
      if (key === 'label') return `${role} (not started)`;
      throw new Error(`withDrivers: the ${role} driver was not started (roles)`);
    },
  });

/**
 * Starts the unit's drivers, runs body, then quits them (status 0). A DriverError the body lets
 * through is a failed command: the check fails with its errno and both transcripts. A CheckFailure
 * gains the transcripts and the summaries. Whatever happens, no driver outlives the call.
 */
export async function withDrivers<T>(ctx: CaseContext, body: (d: Drivers) => Promise<T>, options: WithDriversOptions = {}): Promise<T> {
  const roles = options.roles ?? ['server', 'client'];
  const started: Partial<Record<'server' | 'client', Driver>> = {};
  try {
    const both = await Promise.allSettled(roles.map((role) => ctx.startDriver(role, role === 'client' ? { uid: options.clientUid, gid: options.clientGid } : {})));
    for (const [i, s] of both.entries()) if (s.status === 'fulfilled') started[roles[i]!] = s.value;
    const refused = both.find((s) => s.status === 'rejected');
    if (refused) throw refused.reason;
    const server = started.server ?? absent('server');
    const client = started.client ?? absent('client');
    const transcripts = (): Record<string, string[]> => Object.fromEntries(Object.entries(started).map(([role, d]) => [role, d.transcript()]));
    const address = unitAddress(ctx, options.abstractSuffix);
    let value: T;
    try {
      value = await body({ server, client, address, transcripts });
    } catch (err) {
      throw await withEvidence(err, started, transcripts(), address);
    }
    for (const d of Object.values(started)) await d.quit(0);
    return value;
  } finally {
    await Promise.all(Object.values(started).map((d) => d.stop()));
  }
}

/**
 * A failure inside the body, with the drivers' summaries and transcripts attached (withDrivers, and the
 * sequence engine's four drivers: suite/sequence/drivers.ts).
 */
export async function withEvidence(err: unknown, started: Partial<Record<'server' | 'client', Driver>>, transcripts: Record<string, string[]>, address: Address): Promise<unknown> {
  if (!(err instanceof CheckFailure) && !(err instanceof DriverError)) return err;
  const summaries: Partial<Record<'server' | 'client', ProcessSummary>> = {};
  for (const [role, d] of Object.entries(started) as Array<['server' | 'client', Driver]>) summaries[role] = await d.stop();
  const base: Pick<Evidence, 'server' | 'client'> = { ...(summaries.server ? { server: summaries.server } : {}), ...(summaries.client ? { client: summaries.client } : {}) };
  if (err instanceof DriverError) {
    return new CheckFailure({
      ...base,
      message: err.message,
      expected: `the ${err.command} succeeds`,
      actual: `${err.info.code} from ${err.info.syscall}: ${err.info.message}`,
      details: { address: addressText(address), transcript: transcripts },
    });
  }
  return new CheckFailure({ ...base, ...err.evidence, details: { address: addressText(address), ...err.evidence.details, transcript: transcripts } });
}

/**
 * Runs a driver command that must fail, and returns its errno name; a command that succeeds is
 * null. Anything other than a DriverError (a lie, the deadline) goes through.
 */
export async function errnoOf(command: Promise<unknown>): Promise<string | null> {
  try {
    await command;
    return null;
  } catch (err) {
    if (err instanceof DriverError) return err.code;
    throw err;
  }
}

/**
 * Reads a connection until `length` bytes came, or EOF. Blocking is safe only where the peer has sent
 * (or is sending) them: a stream may hand them over in several reads.
 */
export async function receiveBytes(driver: Driver, conn: string, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  while (got < length) {
    const r = await driver.recv(conn, { dataSize: Math.min(65536, length - got) });
    if (r.data.length === 0) break;
    parts.push(r.data);
    got += r.data.length;
  }
  return Buffer.concat(parts);
}
