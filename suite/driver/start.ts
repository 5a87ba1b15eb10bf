/**
 * Starting drivers: for a case (startDriver, under the case's dir, deadline and cleanup), and once per
 * run for the plan (askCapabilities: hello and quit in a private temp dir, before any case).
 */
import { makeCaseDir, removeCaseDir } from '../harness/casedir.js';
import { DriverClient, type DriverTransport } from './client.js';
import type { Driver } from './driver.js';
import { InProcessTransport } from './in-process.js';
import { ProcessTransport } from './process.js';
import type { HelloAnswer, Transport } from './protocol.js';
import { CheckFailure, Unsupported, type DriverSpec } from '../model/types.js';

/** What a driver needs of the case it runs in (the CaseContext provides it). */
export interface DriverHost {
  /** The case dir: a process driver's default cwd and {dir}. */
  dir: string;
  /** The case deadline. */
  signal: AbortSignal;
  /** The run's extra environment for subject processes (e.g. NODE_V8_COVERAGE under --coverage). */
  extraEnv?: Record<string, string>;
  /** Runs fn when the case ends, whatever happens. */
  addCleanup(fn: () => void | Promise<void>): void;
}


export interface StartDriverOptions {
  transport: Transport;
  /** Names the driver in messages and evidence, e.g. "server c-reference". */
  label: string;
  /** Run a process driver as this uid/gid (privilege drop). */
  uid?: number;
  gid?: number;
  /** Send `hello` first, check the protocol and keep the capabilities (default true). */
  hello?: boolean;
  /** Placeholder values besides {dir}. */
  vars?: Record<string, string>;
}

function openTransport(host: DriverHost, spec: DriverSpec, options: StartDriverOptions): DriverTransport {
  if (options.transport === 'in-process') {
    if (!spec.inProcess) throw new Unsupported(`the ${options.label} driver has no in-process adapter`);
    // The plan gives a case that drops privileges a process driver (isolation: 'process').
    if (options.uid !== undefined || options.gid !== undefined) throw new Error(`the ${options.label} driver cannot change uid or gid in-process`);
    return new InProcessTransport(spec.inProcess(), host.signal);
  }
  if (!spec.command) throw new Unsupported(`the ${options.label} driver cannot run as a process`);
  return new ProcessTransport(spec.command, { dir: host.dir, signal: host.signal, extraEnv: host.extraEnv, vars: options.vars, uid: options.uid, gid: options.gid });
}

/**
 * Starts a driver for the case. With hello (default) it waits for the greeting, so a driver that
 * cannot start, lies or exits 127 is known at once; the driver is killed and waited for when the case
 * ends, so none outlives its case.
 */
export async function startDriver(host: DriverHost, spec: DriverSpec, options: StartDriverOptions): Promise<Driver> {
  const driver = new DriverClient(openTransport(host, spec, options), { label: options.label, signal: host.signal });
  host.addCleanup(async () => {
    await driver.stop();
  });
  if (options.hello !== false) await helloOrStop(driver);
  return driver;
}

/** Greets a started driver; one that does not answer is stopped before the error goes on. */
export async function helloOrStop(driver: Driver): Promise<void> {
  try {
    await driver.hello();
  } catch (err) {
    await driver.stop();
    throw err;
  }
}

export interface AskCapabilitiesOptions {
  /** How long the driver has to start and answer hello and quit. */
  deadlineMs: number;
  extraEnv?: Record<string, string>;
  /** Names the driver in messages (default "subject"), e.g. "c-reference". */
  label?: string;
}

/**
 * Asks a driver what it can do, before any case runs: started in a private temp dir (named like a
 * case dir, so the harness's exit sweep removes it), sent hello and quit. Rejects with an Error that
 * says which driver and why (with its stderr) when it cannot start or does not answer; an Unsupported
 * (exit 127: it cannot run here at all) is passed on as it is, for the plan to report.
 */
export async function askCapabilities(spec: DriverSpec, transport: Transport, options: AskCapabilitiesOptions): Promise<HelloAnswer> {
  const label = options.label ?? 'subject';
  // A case dir like any other: marked with its owner, so a run killed during hello leaves it to the sweep.
  const dir = makeCaseDir();
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new Error(`capabilities deadline of ${options.deadlineMs} ms passed`)), options.deadlineMs);
  const cleanups: Array<() => void | Promise<void>> = [];
  const host: DriverHost = { dir, signal: controller.signal, extraEnv: options.extraEnv, addCleanup: (fn) => void cleanups.push(fn) };
  try {
    const driver = await startDriver(host, spec, { transport, label, hello: false });
    const hello = await driver.hello();
    // Only the greeting matters here; a driver that then quits badly is judged by its cases.
    await driver.quit(0).catch(() => driver.kill());
    return hello;
  } catch (err) {
    if (err instanceof Unsupported) throw err;
    const evidence = err instanceof CheckFailure ? err.evidence : undefined;
    const why = evidence ? `${evidence.message}${evidence.actual && evidence.actual !== 'no answer' ? ` (${evidence.actual})` : ''}` : String(err);
    throw new Error(`cannot ask the ${label} driver (${transport}) for its capabilities: ${why}`, { cause: err });
  } finally {
    clearTimeout(deadline);
    controller.abort(new Error('capabilities asked'));
    for (const cleanup of cleanups.reverse()) await cleanup();
    await removeCaseDir(dir);
  }
}
