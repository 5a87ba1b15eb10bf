/**
 * Asks every driver of the run what it can do, once, before the plan: `hello` through the driver's own
 * transport (its adapter when it has one, else its process). The answers decide applicability; a driver
 * that cannot even answer hello fails every unit it takes part in (it claimed to be a driver), unless it
 * declared itself unsupported here (exit status 127).
 */
import { askCapabilities } from '../driver/start.js';
import { Unsupported, type Implementation } from '../model/types.js';
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
      try {
        const hello = await askCapabilities(spec, spec.inProcess ? 'in-process' : 'process', { ...options, label: impl.name });
        return [impl.name, { capabilities: hello.capabilities }];
      } catch (err) {
        if (err instanceof Unsupported) return [impl.name, { unsupported: err.message }];
        return [impl.name, { broken: `its driver did not answer hello: ${(err as Error).message}` }];
      }
    }),
  );
  return new Map(answers);
}
