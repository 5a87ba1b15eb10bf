#!/usr/bin/env node
/**
 * uds-conformance command line.
 *   run     every property over every pairing; matrix on stdout, reports in --out
 *   replay  one case (property, server, client, seed, path) with its evidence
 * Exit codes: 0 nothing unexpected; 1 something unexpected; 2 bad usage; 3 nothing ran / harness failure.
 */
import { realpathSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import tmp from 'tmp-promise';
import { sweepCaseDirs } from './harness.js';
import { installSignalHandlers, killAllLive } from './process.js';
import { allProperties } from './properties/index.js';
import { builtinImplementations } from './registry.js';
import { buildReport, unexpected, writeResults } from './report/results.js';
import { renderDetails, renderMatrix, renderSummary } from './report/terminal.js';
import { planUnits, runUnits, selectProperties, type RunConfig } from './runner.js';
import type { Implementation, Property } from './types.js';

export const EXIT = { ok: 0, unexpected: 1, usage: 2, harness: 3 } as const;

export class UsageError extends Error {}

const HELP = `uds-conformance: conformance suite for Unix domain socket implementations

Usage:
  uds-conformance run [options]      run every property over every server x client pairing
  uds-conformance replay [options]   re-run one case: --property, --server/--client, --seed, --path
  uds-conformance --help

Options (run):
  --runs N            generated cases per property and pairing (default 100; a property may cap it)
  --seed N            run seed (default: random); every result records the seed to replay it
  --out DIR           where reports go (default: reports/)
  --server NAME       only pairings with this server (repeatable)
  --client NAME       only pairings with this client (repeatable)
  --property ID       only this property; globs like 'delivery.*' work (repeatable)
  --jobs N            cases in parallel (default: number of cores)
  --no-shrink         report the first failing input without shrinking it
  --deadline MS       per-case deadline in milliseconds (default 15000)
Options (replay):
  --property ID --server NAME --client NAME --seed N --path PATH   (as printed in a report)

Exit status: 0 nothing unexpected, 1 an unexpected result, 2 bad usage, 3 nothing ran or the harness failed.
`;

const OPTIONS = {
  runs: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  server: { type: 'string', multiple: true },
  client: { type: 'string', multiple: true },
  property: { type: 'string', multiple: true },
  jobs: { type: 'string' },
  'no-shrink': { type: 'boolean' },
  deadline: { type: 'string' },
  path: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function seedValue(value: string | undefined): number {
  if (value === undefined) return Math.floor(Math.random() * 0x7fffffff);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`--seed must be an integer, got ${JSON.stringify(value)}`);
  return Number(value) | 0;
}

function checkNames(flag: string, names: string[] | undefined, known: Implementation[], role: 'server' | 'client'): void {
  for (const name of names ?? []) {
    const impl = known.find((i) => i.name === name);
    if (!impl) throw new UsageError(`--${flag} ${name}: no such implementation (known: ${known.map((i) => i.name).join(', ')})`);
    if (!impl[role]) throw new UsageError(`--${flag} ${name}: ${name} has no ${role} role`);
  }
}

export interface ParsedRun {
  config: RunConfig;
  outDir: string;
}

/** Parses `run`/`replay` arguments into a config; throws UsageError on anything wrong. */
export function parseRunArgs(command: 'run' | 'replay', args: string[], implementations: Implementation[], properties: Property<any>[]): ParsedRun {
  let values;
  try {
    ({ values } = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  checkNames('server', values.server, implementations, 'server');
  checkNames('client', values.client, implementations, 'client');
  const patterns = values.property ?? [];
  for (const p of patterns) {
    if (selectProperties(properties, [p]).length === 0) throw new UsageError(`--property ${p}: matches no property (known: ${properties.map((q) => q.id).join(', ')})`);
  }
  if (command === 'replay') {
    if (patterns.length !== 1 || /[*?]/.test(patterns[0]!)) throw new UsageError('replay needs exactly one --property ID (no glob)');
    if (values.seed === undefined) throw new UsageError('replay needs --seed N');
    if (values.path === undefined) throw new UsageError('replay needs --path PATH (from the report)');
    if (!/^\d+(:\d+)*$/.test(values.path)) throw new UsageError(`--path must look like 12:0:3, got ${JSON.stringify(values.path)}`);
  } else if (values.path !== undefined) {
    throw new UsageError('--path is only for replay');
  }
  const config: RunConfig = {
    implementations,
    properties,
    runs: positiveInt('runs', values.runs, 100),
    seed: seedValue(values.seed),
    servers: values.server,
    clients: values.client,
    propertyPatterns: patterns,
    concurrency: positiveInt('jobs', values.jobs, os.availableParallelism()),
    caseDeadlineMs: positiveInt('deadline', values.deadline, 15_000),
    shrink: !values['no-shrink'],
    replayPath: values.path,
  };
  return { config, outDir: resolve(values.out ?? 'reports') };
}

async function run(args: string[]): Promise<number> {
  const implementations = builtinImplementations();
  const properties = allProperties();
  const { config, outDir } = parseRunArgs('run', args, implementations, properties);
  const units = planUnits(config);
  if (units.length === 0) {
    process.stderr.write('uds-conformance: nothing to run (the filters leave no pairing)\n');
    return EXIT.harness;
  }
  const startedAt = new Date();
  const t0 = performance.now();
  const interactive = process.stderr.isTTY && process.env.CI !== 'true';
  let lastLine = -Infinity;
  config.onResult = (r, done, total) => {
    const now = performance.now();
    if (interactive) process.stderr.write(`\r${done}/${total} ${r.property} ${r.server} × ${r.client}`.padEnd(79).slice(0, 79));
    else if (now - lastLine > 5000 || done === total) {
      lastLine = now;
      process.stderr.write(`[${((now - t0) / 1000).toFixed(0)} s] ${done}/${total} done\n`);
    }
  };
  const results = await runUnits(units, config);
  if (interactive) process.stderr.write('\r'.padEnd(80) + '\r');
  const report = await buildReport({
    seed: config.seed,
    runs: config.runs,
    startedAt,
    durationMs: performance.now() - t0,
    implementations,
    properties: selectProperties(properties, config.propertyPatterns),
    results,
  });
  const file = await writeResults(report, outDir);
  process.stdout.write(`${renderMatrix(report)}\n\n`);
  const details = renderDetails(report, { expectedToo: true });
  if (details) process.stdout.write(`${details}\n\n`);
  process.stdout.write(`${renderSummary(report)}\nresults: ${file}\n`);
  if (results.every((r) => r.status === 'unsupported')) return EXIT.harness;
  return unexpected(results).length > 0 ? EXIT.unexpected : EXIT.ok;
}

async function replay(args: string[]): Promise<number> {
  const implementations = builtinImplementations();
  const properties = allProperties();
  const { config } = parseRunArgs('replay', args, implementations, properties);
  const units = planUnits(config);
  if (units.length !== 1) {
    throw new UsageError(`replay must select exactly one case; --property/--server/--client select ${units.length}`);
  }
  const [result] = await runUnits(units, { ...config, concurrency: 1 });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return result!.status === 'pass' || result!.status === 'unsupported' ? EXIT.ok : EXIT.unexpected;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help' || rest.includes('--help')) {
    process.stdout.write(HELP);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  tmp.setGracefulCleanup();
  installSignalHandlers(async () => sweepCaseDirs());
  process.on('exit', sweepCaseDirs);
  try {
    if (command === 'run') return await run(rest);
    if (command === 'replay') return await replay(rest);
    throw new UsageError(`unknown command ${JSON.stringify(command)} (try --help)`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`uds-conformance: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`uds-conformance: harness failure: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.harness;
  } finally {
    killAllLive();
  }
}

/** True when this module is the program (also through npm's bin symlink), not when imported by tests. */
function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isMain()) {
  process.exitCode = await main(process.argv.slice(2));
}
