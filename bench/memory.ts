/**
 * The harness's peak memory with a 1 MiB and a 64 MiB payload: each measurement in a fresh Node
 * process (so nothing earlier inflates the high-water mark), which makes the payload, collects
 * garbage, resets the kernel's RSS high-water mark (/proc/self/clear_refs, 5), and runs one session
 * of the pairing through the harness. `growthMiB` = peak RSS during the session minus RSS before it:
 * what the harness needed beyond the payload it was given. Flat means it does not grow with the payload.
 *
 * Run as `node --expose-gc dist/bench/memory.js SERVER CLIENT BYTES` it is that child.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { perfPayload, timedSession } from '../suite/measure/perf.js';
import { builtinImplementations } from '../suite/registry.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

export interface MemoryFigure {
  server: string;
  client: string;
  payloadBytes: number;
  /** Resident set before the session (the payload included), MiB. */
  baselineMiB: number;
  /** High-water mark of the resident set during the session, MiB. */
  peakMiB: number;
  growthMiB: number;
}

function statusKiB(field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`no ${field} in /proc/self/status`);
  return Number(m[1]);
}

async function child(serverName: string, clientName: string, bytes: number): Promise<MemoryFigure> {
  const impls = builtinImplementations();
  const server = impls.find((i) => i.name === serverName)!;
  const client = impls.find((i) => i.name === clientName)!;
  const payload = perfPayload(bytes);
  // One small session first, so that code loading is not counted as the payload's.
  await timedSession(server, client, perfPayload(4096));
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  const before = statusKiB('VmRSS');
  await timedSession(server, client, payload);
  const peak = statusKiB('VmHWM');
  return {
    server: serverName,
    client: clientName,
    payloadBytes: bytes,
    baselineMiB: before / 1024,
    peakMiB: peak / 1024,
    growthMiB: (peak - before) / 1024,
  };
}

export async function measureMemory(options: { sizes: number[]; pairings: Array<[string, string]>; log: (line: string) => void }): Promise<MemoryFigure[]> {
  const out: MemoryFigure[] = [];
  for (const [server, client] of options.pairings) {
    for (const bytes of options.sizes) {
      const { stdout } = await run(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), server, client, String(bytes)], {
        env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
        timeout: 120_000,
      });
      const figure = JSON.parse(stdout) as MemoryFigure;
      out.push(figure);
      options.log(`  ${server} × ${client}, ${bytes / MiB} MiB: peak ${figure.peakMiB.toFixed(1)} MiB, ${figure.growthMiB.toFixed(1)} MiB more during the session`);
    }
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [server, client, bytes] = process.argv.slice(2);
  process.stdout.write(`${JSON.stringify(await child(server!, client!, Number(bytes)))}\n`);
}
