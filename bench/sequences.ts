/**
 * (h) Sequence throughput: generated call sequences per second of sequence.equivalent through
 * runSuite, on an in-process driver pairing (ts-native × ts-native, its adapter in the harness) and on
 * C process drivers (c-reference × c-reference), each beside the C floor of the same sequences
 * (c-reference/bench/seqfloor.c: the calls made directly on AF_UNIX sockets, in C, no drivers).
 *
 * The harness: one runSuite call per batch over stream sockets at pathnames, a fixed seed, `jobs` at
 * the default, the unit repeated (`repeat`) until the batch holds about `cases` cases: the property
 * caps its runs at maxRuns (5) after its 2 examples, so one unit has 7 cases whatever `--runs` asks.
 * Its time is from the plan (onPlan: the drivers' hello is done) to runSuite's return. Each case runs
 * its sequence in two worlds at once, the pairing and the kernel's (c-reference × c-reference, two
 * more driver processes per case), and judges both: that is the harness's work per sequence.
 *
 * The floor: the same sequences (fast-check's sample of the property's arbitrary with the unit's seed
 * and its examples, as the runner draws them), walked through the kernel model to settle each step and
 * its answer (sequence-script.ts), then run by seqfloor in one world, every answer checked, the batch's
 * count of sequences over and over, at 1 process and at the core count. Its `limit` steps are left out.
 *
 * Rounds alternate harness and floor, so a change in the machine's load reaches both; figures are
 * medians over rounds (the floor's over its 3 samples a round).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULTS, defaultJobCeiling } from '../suite/defaults.js';
import type { Capabilities, Transport } from '../suite/driver/protocol.js';
import { C_BIN } from '../suite/harness/paths.js';
import type { Implementation } from '../suite/model/types.js';
import { askDrivers } from '../suite/plan/capabilities.js';
import { unitSeed, type DriverAnswer, type Unit } from '../suite/plan/plan.js';
import { sequenceEquivalent } from '../suite/properties/sequences.js';
import type { Property } from '../suite/properties/property.js';
import { cReference, tsNative } from '../suite/registry.js';
import { planSuite, runSuite } from '../suite/run.js';
import type { GeneratedSequence } from '../suite/sequence/commands.js';
import { pairingForms, scriptSequence, type ScriptedSequence } from './sequence-script.js';

/** The property, on stream sockets only (its other socket type, seqpacket, is left out; same id, same seeds). */
const streamOnly: Property<GeneratedSequence> = { ...sequenceEquivalent, socketTypes: ['stream'] };
export const SEQUENCE_SEED = 14;
/** What the bench asks for; the property's maxRuns caps it. */
export const SEQUENCE_RUNS = 200;
const FLOOR_SAMPLES_PER_ROUND = 3;

export interface FloorFigure {
  jobs: number;
  /** Sequences per batch run (the harness's batch, over and over: `passes` times). */
  sequences: number;
  passes: number;
  /** Steps after each listen, all passes (connect, accept, send, recv, shutdown, close, kill). */
  steps: number;
  /** Median over every sample (3 a round) of one pass's wall (the harness batch's sequences once), ms; timed inside seqfloor. */
  wallMs: number;
  sequencesPerSecond: number;
}

export interface PairingSequenceFigure {
  server: string;
  client: string;
  /** The plan's transport for each side's driver. */
  transport: Partial<Record<'server' | 'client', Transport>>;
  unitSeed: number;
  /** Units per batch (the one unit, repeated) and cases per unit (examples + generated runs). */
  units: number;
  casesPerUnit: number;
  cases: number;
  rounds: number;
  /** Median over rounds: wall from the plan to runSuite's return, ms, and cases over it. */
  wallMs: number;
  /** Median over rounds of runSuite's whole call, hello and planning included. */
  callMs: number;
  sequencesPerSecond: number;
  /** The harness's own process CPU per case (user + system), median over rounds, ms. */
  cpuPerCaseMs: number;
  /** The floor at 1 process and at the core count. */
  floor: FloorFigure;
  floorParallel: FloorFigure;
  /** harness sequences/s ÷ floor sequences/s at the core count (the harness runs at the default jobs on those cores). */
  ratio: number;
  /** What the floor's sequences left out or stood in for. */
  limitsLeftOut: number;
  killsAsCloses: number;
  /**
   * Results (warm-up included) whose observed transcript length (the last case's lines) equalled the
   * model's walk of the same sequence: the floor's sequences are the harness's (else the bench throws).
   */
  transcriptLinesChecked: number;
}

export interface SequenceFigures {
  seed: number;
  runs: number;
  /** The default `jobs`: the adaptive ceiling runSuite uses when none is given. */
  jobsCeiling: number;
  cores: number;
  pairings: PairingSequenceFigure[];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function capabilitiesOf(answer: DriverAnswer | undefined, transport: Transport, name: string): Capabilities {
  if (!answer || !('capabilities' in answer)) throw new Error(`sequences: ${name}'s driver has no hello answer: ${JSON.stringify(answer)}`);
  return answer.byTransport?.[transport] ?? answer.capabilities;
}

/** The unit as the plan makes it (its transports), and the sequences its cases run, for the floor. */
export async function prepareSequences(impl: Implementation, oracleCaps: Capabilities): Promise<{ unit: Unit; seed: number; casesPerUnit: number; scripts: ScriptedSequence[] }> {
  const { units, capabilities } = await planSuite({ implementations: [impl], properties: [streamOnly], runs: SEQUENCE_RUNS, seed: SEQUENCE_SEED });
  const unit = units.find((u) => u.server === impl && u.client === impl && u.socketType === 'stream' && u.address === 'pathname');
  if (!unit || unit.unsupported || unit.broken) throw new Error(`sequences: no runnable ${impl.name} × ${impl.name} unit: ${unit?.unsupported ?? unit?.broken ?? 'none planned'}`);
  const side = (role: 'server' | 'client'): Capabilities => capabilitiesOf(capabilities.get(impl.name), unit.transport?.[role] ?? 'process', impl.name);
  const forms = pairingForms({ server: side('server'), client: side('client') }, oracleCaps);
  const seed = unitSeed(SEQUENCE_SEED, unit);
  // As the runner draws a unit's inputs: its examples, then the generated runs, maxRuns capping them.
  const examples = (streamOnly.examples ?? []).map((e) => [e] as [GeneratedSequence]);
  const generated = Math.min(SEQUENCE_RUNS, streamOnly.maxRuns ?? SEQUENCE_RUNS);
  const casesPerUnit = generated + examples.length;
  const arbitrary = streamOnly.arbitraryFor ? streamOnly.arbitraryFor({}) : streamOnly.arbitrary;
  const drawn = fc.sample(fc.tuple(arbitrary), { numRuns: casesPerUnit, seed, examples }).map(([s]) => s);
  const scripts: ScriptedSequence[] = [];
  for (const seq of drawn) scripts.push(await scriptSequence(seq, forms));
  return { unit, seed, casesPerUnit, scripts };
}

function runFloor(input: string, dir: string, sequences: number, jobs: number): Promise<{ steps: number; wallMs: number }> {
  return new Promise((resolve, reject) => {
    const child = execFile(join(C_BIN, 'bench-seqfloor'), [dir, String(sequences), String(jobs)], { timeout: 180_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`bench-seqfloor: ${err.message}: ${stderr.trim()}`));
      const out = JSON.parse(stdout) as { sequences: number; jobs: number; steps: number; wallMs: number; failures: number };
      if (out.failures !== 0 || out.sequences !== sequences || out.jobs !== jobs) return reject(new Error(`bench-seqfloor: ${stdout.trim()}`));
      resolve(out);
    });
    child.stdin!.end(input);
  });
}

export interface SequenceOptions {
  /** About this many cases per harness batch (whole units of 7). */
  cases: number;
  rounds: number;
  /**
   * At least this many sequences per floor sample: the batch's, over and over (whole passes). The floor
   * is far faster than the harness; one pass would be a millisecond, mostly fork and exit.
   */
  floorSequences: number;
  log: (line: string) => void;
}

async function measurePairing(impl: Implementation, oracleCaps: Capabilities, options: SequenceOptions): Promise<PairingSequenceFigure> {
  const jobs = os.availableParallelism();
  const { unit, seed, casesPerUnit, scripts } = await prepareSequences(impl, oracleCaps);
  const units = Math.max(1, Math.round(options.cases / casesPerUnit));
  const cases = units * casesPerUnit;
  const passes = Math.max(1, Math.ceil(options.floorSequences / cases));
  const input = `${scripts.flatMap((s) => s.lines).join('\n')}\n`;
  const walls: number[] = [];
  const calls: number[] = [];
  const cpu: number[] = [];
  const floorWalls: Record<'one' | 'parallel', number[]> = { one: [], parallel: [] };
  let floorSteps = 0;
  let checked = 0;
  const dir = mkdtempSync(join(os.tmpdir(), 'udsc-bench-seq-'));
  try {
    // Round 0 warms up (the drivers' code, the JIT) and is not counted.
    for (let round = 0; round <= options.rounds; round++) {
      let planned = 0;
      const before = process.cpuUsage();
      const t0 = performance.now();
      const report = await runSuite({ implementations: [impl], properties: [streamOnly], runs: SEQUENCE_RUNS, seed: SEQUENCE_SEED, repeat: units, onPlan: () => void (planned = performance.now()) });
      const t1 = performance.now();
      const used = process.cpuUsage(before);
      let ran = 0;
      for (const r of report.results) {
        if (r.status !== 'pass') throw new Error(`sequences: ${r.server} × ${r.client} ${r.property}: ${r.status}: ${r.message ?? ''}`);
        ran += r.runs;
        // The harness observed the last case's transcript length: the model's walk of that sequence must match it.
        const observed = (r.observed as { steps?: number } | undefined)?.steps;
        if (observed !== scripts.at(-1)!.transcriptLines) throw new Error(`sequences: the harness's last sequence had ${observed} lines, the floor's script ${scripts.at(-1)!.transcriptLines}: not the same sequences`);
        checked++;
      }
      if (ran !== cases) throw new Error(`sequences: ${ran} cases instead of ${cases}`);
      // Several floor samples a round: each is a fraction of a second, and the most moved by other work.
      const one: number[] = [];
      const parallel: number[] = [];
      for (let i = 0; i < FLOOR_SAMPLES_PER_ROUND; i++) {
        const a = await runFloor(input, dir, cases * passes, 1);
        const b = await runFloor(input, dir, cases * passes, jobs);
        one.push(a.wallMs);
        parallel.push(b.wallMs);
        floorSteps = a.steps;
      }
      if (round === 0) continue;
      walls.push(t1 - planned);
      calls.push(t1 - t0);
      cpu.push((used.user + used.system) / 1000 / cases);
      floorWalls.one.push(...one.map((w) => w / passes));
      floorWalls.parallel.push(...parallel.map((w) => w / passes));
      const rate = (walls: number[]): string => ((cases * 1000 * passes) / median(walls)).toFixed(0);
      options.log(`  ${impl.name} × ${impl.name} round ${round}/${options.rounds}: harness ${((cases * 1000) / (t1 - planned)).toFixed(1)} sequences/s, floor ${rate(one)} | ${rate(parallel)} at 1 | ${jobs} processes`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const floor = (key: 'one' | 'parallel', j: number): FloorFigure => {
    const wallMs = median(floorWalls[key]);
    return { jobs: j, sequences: cases, passes, steps: floorSteps, wallMs, sequencesPerSecond: (cases * 1000) / wallMs };
  };
  const wallMs = median(walls);
  const sequencesPerSecond = (cases * 1000) / wallMs;
  const floorParallel = floor('parallel', jobs);
  return {
    server: impl.name,
    client: impl.name,
    transport: unit.transport ?? {},
    unitSeed: seed,
    units,
    casesPerUnit,
    cases,
    rounds: options.rounds,
    wallMs,
    callMs: median(calls),
    sequencesPerSecond,
    cpuPerCaseMs: median(cpu),
    floor: floor('one', 1),
    floorParallel,
    ratio: sequencesPerSecond / floorParallel.sequencesPerSecond,
    limitsLeftOut: scripts.reduce((n, s) => n + s.limitsLeftOut, 0),
    killsAsCloses: scripts.reduce((n, s) => n + s.kills, 0),
    transcriptLinesChecked: checked,
  };
}

/** c-reference's process driver's hello: the oracle world's capabilities. */
export async function oracleCapabilities(): Promise<Capabilities> {
  const oracle = (await askDrivers([cReference], { deadlineMs: DEFAULTS.helloDeadlineMs })).get(cReference.name);
  return capabilitiesOf(oracle, 'process', cReference.name);
}

export async function measureSequences(options: SequenceOptions): Promise<SequenceFigures> {
  const oracleCaps = await oracleCapabilities();
  const pairings: PairingSequenceFigure[] = [];
  for (const impl of [tsNative, cReference]) pairings.push(await measurePairing(impl, oracleCaps, options));
  return { seed: SEQUENCE_SEED, runs: SEQUENCE_RUNS, jobsCeiling: defaultJobCeiling(), cores: os.availableParallelism(), pairings };
}
