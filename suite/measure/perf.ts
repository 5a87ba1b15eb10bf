/**
 * Throughput and latency of a pairing, measured through the harness as a conformance case runs it:
 * the server started and waited on until listening, then the client started and timed from that
 * moment. `firstByteMs`: from starting the client (a process client's spawn included) to the first
 * byte of its stdout reaching the harness. `mbPerSec`: the payload's bytes (10^6 per MB) over the time
 * from the first byte to the last. The bytes are checked too (length, hash and first difference):
 * a pairing that does not deliver the payload intact gets no figure, only an error.
 *
 * Used by `run --perf` (results.json `perf`, the terminal matrix) and by the benchmark (bench/).
 */
import { withoutNul } from '../properties/arbitraries.js';
import { OutputCapture } from '../harness/capture.js';
import { CaseContext, type CaseOptions } from '../harness/context.js';
import type { Implementation } from '../model/types.js';
import { patternBytes } from '../../fixtures/corpora/payloads.js';

/** One pairing's figures (medians over `samples` sessions), as results.json carries them. */
export interface PerfEntry {
  server: string;
  client: string;
  payloadBytes: number;
  /** Megabytes (10^6 bytes) per second, first byte to last; null when the pairing failed. */
  mbPerSec: number | null;
  /** Milliseconds from starting the client to its first stdout byte; null when the pairing failed. */
  firstByteMs: number | null;
  samples: number;
  /** Why there is no figure (the server did not listen, bytes differ, ...). */
  error?: string;
}

export const DEFAULT_PERF_BYTES = 64 * 1024 * 1024;

/** Records when the first and the last chunk arrived, on top of the usual bounded capture. */
class TimedCapture extends OutputCapture {
  firstAt: number | null = null;
  lastAt = 0;

  override push(chunk: Uint8Array): void {
    const now = performance.now();
    this.firstAt ??= now;
    this.lastAt = now;
    super.push(chunk);
  }
}

/** A payload of `bytes` pattern bytes without NUL (so the seed client's fputs quirk does not cut it). */
export function perfPayload(bytes: number): Uint8Array {
  return withoutNul(patternBytes(bytes, 0x5eed));
}

/** Every (server, client) pairing whose server takes a payload, in registry order. */
export function perfPairings(implementations: Implementation[]): Array<{ server: Implementation; client: Implementation }> {
  const out: Array<{ server: Implementation; client: Implementation }> = [];
  for (const server of implementations) {
    if (!server.server?.payload) continue;
    for (const client of implementations) if (client.client) out.push({ server, client });
  }
  return out;
}

export interface SessionTiming {
  firstByteMs: number;
  mbPerSec: number;
}

/** One timed session of the pairing; throws with the reason when the payload does not arrive intact. */
export async function timedSession(
  server: Implementation,
  client: Implementation,
  payload: Uint8Array,
  options: { deadlineMs?: number; caseOptions?: CaseOptions } = {},
): Promise<SessionTiming> {
  return CaseContext.with(
    { server, client },
    options.deadlineMs ?? 60_000,
    async (ctx) => {
      const path = ctx.socketName();
      const handle = await ctx.startServer({ path, payload });
      if (!handle.ready.ready) throw new Error(`server did not listen: ${handle.ready.detail}`);
      const capture = new TimedCapture({ cap: 4096, expected: payload });
      const started = performance.now();
      const run = ctx.startClient({ path, expected: payload, capture });
      const [clientExit, serverExit] = await Promise.all([run.exited, handle.exited]);
      const bytes = capture.compare();
      if (bytes.firstDifference !== null || capture.firstAt === null) {
        throw new Error(
          `the client printed ${bytes.actualLength} of ${bytes.expectedLength} bytes` +
            (bytes.firstDifference !== null ? `, first difference at ${bytes.firstDifference}` : '') +
            ` (client exit ${clientExit.exitCode}, server exit ${serverExit.exitCode})`,
        );
      }
      const streamMs = Math.max(capture.lastAt - capture.firstAt, 1e-3);
      return { firstByteMs: capture.firstAt - started, mbPerSec: payload.length / 1e6 / (streamMs / 1000) };
    },
    options.caseOptions,
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Medians over `samples` timed sessions of one pairing (after one untimed warm-up session). */
export async function measurePairing(
  server: Implementation,
  client: Implementation,
  options: { payload: Uint8Array; samples?: number; warmup?: boolean; deadlineMs?: number; caseOptions?: CaseOptions },
): Promise<PerfEntry> {
  const samples = Math.max(1, options.samples ?? 3);
  const base = { server: server.name, client: client.name, payloadBytes: options.payload.length, samples };
  const timings: SessionTiming[] = [];
  try {
    if (options.warmup !== false) await timedSession(server, client, options.payload, options);
    for (let i = 0; i < samples; i++) timings.push(await timedSession(server, client, options.payload, options));
  } catch (err) {
    return { ...base, mbPerSec: null, firstByteMs: null, error: (err as Error).message };
  }
  return {
    ...base,
    mbPerSec: round(median(timings.map((t) => t.mbPerSec)), 1),
    firstByteMs: round(median(timings.map((t) => t.firstByteMs)), 3),
  };
}

/** `run --perf`: every payload-capable pairing, one at a time (no concurrent case disturbs the timing). */
export async function measurePerf(
  implementations: Implementation[],
  options: { bytes?: number; samples?: number; servers?: string[]; clients?: string[]; caseOptions?: CaseOptions } = {},
): Promise<PerfEntry[]> {
  const payload = perfPayload(options.bytes ?? DEFAULT_PERF_BYTES);
  const keep = (names: string[] | undefined, name: string): boolean => !names?.length || names.includes(name);
  const out: PerfEntry[] = [];
  for (const { server, client } of perfPairings(implementations)) {
    if (!keep(options.servers, server.name) || !keep(options.clients, client.name)) continue;
    out.push(await measurePairing(server, client, { payload, samples: options.samples, caseOptions: options.caseOptions }));
  }
  return out;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
