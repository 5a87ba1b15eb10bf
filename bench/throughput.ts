/**
 * (d) Throughput and connect-to-first-byte latency of every built-in pairing whose server takes a
 * payload, with a 64 MiB payload, through the harness (suite/perf.ts: the figures `run --perf` puts in
 * results.json). One tinybench task per pairing; each iteration is one timed session, after a warm-up.
 */
import { Bench } from 'tinybench';
import { perfPairings, perfPayload, timedSession, type SessionTiming } from '../suite/measure/perf.js';
import { builtinImplementations } from '../suite/registry.js';

export interface PairingFigure {
  server: string;
  client: string;
  payloadBytes: number;
  samples: number;
  /** Medians. */
  mbPerSec: number;
  firstByteMs: number;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export async function measureThroughput(options: { bytes: number; samples: number; log: (line: string) => void }): Promise<PairingFigure[]> {
  const payload = perfPayload(options.bytes);
  const pairings = perfPairings(builtinImplementations());
  const timings = new Map<string, SessionTiming[]>();
  const bench = new Bench({ name: 'throughput', iterations: options.samples, time: 0, warmup: true, warmupIterations: 1, warmupTime: 0, throws: true });
  for (const { server, client } of pairings) {
    const key = `${server.name} × ${client.name}`;
    const list: SessionTiming[] = [];
    timings.set(key, list);
    let warm = true;
    bench.add(key, async () => {
      const t = await timedSession(server, client, payload);
      if (!warm) list.push(t);
    }, {
      beforeAll(mode) {
        warm = mode === 'warmup';
      },
    });
  }
  await bench.run();
  const out: PairingFigure[] = [];
  for (const { server, client } of pairings) {
    const list = timings.get(`${server.name} × ${client.name}`)!;
    out.push({
      server: server.name,
      client: client.name,
      payloadBytes: payload.length,
      samples: list.length,
      mbPerSec: median(list.map((t) => t.mbPerSec)),
      firstByteMs: median(list.map((t) => t.firstByteMs)),
    });
    options.log(`  ${server.name} × ${client.name}: ${out.at(-1)!.mbPerSec.toFixed(0)} MB/s, first byte ${out.at(-1)!.firstByteMs.toFixed(2)} ms`);
  }
  return out;
}
