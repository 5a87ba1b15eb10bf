/**
 * Asks every driver of the run what it can do, once, before the plan: `hello` through each transport it
 * has (its adapter, its process, or both: an adapter in the harness's process may rightly claim less,
 * e.g. no setrlimit, than the same driver as a process). The answers decide applicability and, for a
 * driver with both, which transport a unit uses; a driver that cannot even answer hello fails every unit
 * it takes part in (it claimed to be a driver), unless it declared itself unsupported here (exit 127).
 */
import { askCapabilities } from '../driver/start.js';
import { Unsupported, type Implementation } from '../model/types.js';
import type { Capabilities, Transport } from '../driver/protocol.js';
import type { CapabilityMap, DriverAnswer } from './plan.js';

export interface AskOptions {
  /** Deadline for one driver's hello and quit. */
  deadlineMs: number;
  /** The run's extra environment (run --coverage). */
  extraEnv?: Record<string, string>;
}

export async function askDrivers(implementations: Implementation[], options: AskOptions): Promise<CapabilityMap> {
  const withDriver = implementations.filter((i) => i.driver !== undefined);
  const answers = await Promise.all(
    withDriver.map(async (impl): Promise<[string, DriverAnswer]> => {
      const spec = impl.driver!;
      // The preferred transport first (the adapter: no process start per case), then the other.
      const transports: Transport[] = [...(spec.inProcess ? (['in-process'] as const) : []), ...(spec.command ? (['process'] as const) : [])];
      try {
        const hellos = await Promise.all(transports.map((t) => askCapabilities(spec, t, { ...options, label: impl.name })));
        const byTransport: Partial<Record<Transport, Capabilities>> = {};
        transports.forEach((t, i) => (byTransport[t] = hellos[i]!.capabilities));
        return [impl.name, { capabilities: hellos[0]!.capabilities, byTransport }];
      } catch (err) {
        if (err instanceof Unsupported) return [impl.name, { unsupported: err.message }];
        return [impl.name, { broken: `its driver did not answer hello: ${(err as Error).message}` }];
      }
    }),
  );
  return new Map(answers);
}
