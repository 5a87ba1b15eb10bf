/** `report`, `merge` and `compare`: reports from results.json files, printed and exited as a run would. */
import { resolve } from 'node:path';
import { DEFAULTS } from '../defaults.js';
import { checkOutDir } from '../report/atomic.js';
import { compareFiles, renderCompareText } from '../report/compare.js';
import { loadReport, mergeReports } from '../report/merge.js';
import type { RunReport } from '../report/results.js';
import { renderSummary, renderTerminalReport } from '../report/terminal.js';
import { exitCodeFor, writeReports } from '../report/write.js';
import { guardProcess } from './guard.js';
import { reportLines, stdoutFit } from './output.js';
import { parseOwnArgs, UsageError } from './usage.js';

/** Prints a loaded or merged report like a run does, writes the four reports, and exits as a run would. */
async function emitReports(report: RunReport, outDir: string, strict = false): Promise<number> {
  const written = await writeReports(report, outDir);
  const fit = stdoutFit();
  const text = renderTerminalReport(report, { ...fit, strict });
  if (text) process.stdout.write(`${text}\n\n`);
  process.stdout.write(`${renderSummary(report, fit)}\n${reportLines(written)}`);
  return exitCodeFor(report.results, report.properties, { strict });
}

/** `report --from results.json --out DIR`: re-renders the four reports from a results file. */
export async function reportCommand(args: string[]): Promise<number> {
  guardProcess();
  const { values, positionals } = parseOwnArgs('report', args, { from: { type: 'string' }, out: { type: 'string' }, strict: { type: 'boolean' } });
  if (positionals.length) throw new UsageError(`report: unexpected argument ${JSON.stringify(positionals[0])} (use --from FILE)`);
  if (values.from === undefined) throw new UsageError('report needs --from FILE (a results.json)');
  const outDir = resolve(values.out ?? DEFAULTS.outDir);
  checkOutDir(outDir);
  const report = await loadReport(values.from);
  return emitReports(report, outDir, values.strict ?? false);
}

/** `merge a.json b.json ... --out DIR`: one set of reports from the results of several shards. */
export async function mergeCommand(args: string[]): Promise<number> {
  guardProcess();
  const { values, positionals } = parseOwnArgs('merge', args, { out: { type: 'string' }, strict: { type: 'boolean' } });
  if (positionals.length === 0) throw new UsageError('merge needs one or more results.json files');
  const outDir = resolve(values.out ?? DEFAULTS.outDir);
  checkOutDir(outDir);
  const inputs = [];
  for (const file of positionals) inputs.push({ file, report: await loadReport(file) });
  const { report, warnings } = mergeReports(inputs);
  for (const w of warnings) process.stderr.write(`uds-conformance: merge: ${w}\n`);
  return emitReports(report, outDir, values.strict ?? false);
}

/** `compare BASE.json HEAD.json [--out DIR]`: compare.md and compare.json (report/compare.ts); 1 on a regression. */
export async function compareCommand(args: string[]): Promise<number> {
  guardProcess();
  const { values, positionals } = parseOwnArgs('compare', args, { out: { type: 'string' } });
  if (positionals.length !== 2) throw new UsageError(`compare needs two results.json files, BASE and HEAD (got ${positionals.length})`);
  const outDir = resolve(values.out ?? DEFAULTS.outDir);
  checkOutDir(outDir);
  const { comparison, written, exitCode } = await compareFiles(positionals[0]!, positionals[1]!, outDir);
  process.stdout.write(`${renderCompareText(comparison)}compare: ${written.join(', ')}\n`);
  return exitCode;
}
