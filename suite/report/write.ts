/** Writes the reports of a run (results.json and every REPORT_FORMATS entry) into one directory. */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commitStaged, lockOutDir, stagingDir } from './atomic.js';
import type { Level } from '../model/types.js';
import { gradesExit, levelOf } from './common.js';
import { writeResults, type RunReport } from './results.js';

/**
 * The rendered reports besides results.json, in the order they are listed: adding a format is its
 * renderer and one line here. Each renderer is imported when a report is written, not with this
 * module: `run --dry-run` and the time before a run's first case do not pay for them.
 */
export const REPORT_FORMATS: ReadonlyArray<{ name: string; file: string; render: (report: RunReport) => Promise<string> }> = [
  { name: 'junit', file: 'junit.xml', render: async (report) => (await import('./junit.js')).renderJUnit(report) },
  { name: 'summary', file: 'summary.md', render: async (report) => (await import('./markdown.js')).renderMarkdown(report) },
  { name: 'html', file: 'index.html', render: async (report) => (await import('./html.js')).renderHtml(report) },
];

export interface WrittenReports {
  /** The results.json written. */
  results: string;
  /** Every other report written, by REPORT_FORMATS order. */
  reports: string[];
}

/**
 * Writes every report under the lock of `outDir` (shared with the run's own, when the CLI holds it):
 * all of them into a staging directory first, then each renamed into place, so `outDir` holds one
 * run's complete set and never a half-written file (report/atomic.ts).
 */
export async function writeReports(report: RunReport, outDir: string): Promise<WrittenReports> {
  const lock = lockOutDir(outDir);
  try {
    const staging = stagingDir(lock.dir);
    try {
      const staged = await writeResults(report, staging);
      await Promise.all(REPORT_FORMATS.map(async (f) => writeFile(join(staging, f.file), await f.render(report))));
      const [results, ...reports] = commitStaged(staging, lock.dir, [staged, ...REPORT_FORMATS.map((f) => f.file)]);
      return { results: results!, reports };
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  } finally {
    lock.release();
  }
}

/**
 * The documented exit status for a set of results, graded by level as h2spec grades: 3 when nothing ran
 * (no result, or only unsupported ones; a shard may legitimately hold none); 1 when a MUST property
 * fails unexpectedly, something passes unexpectedly or the harness errs, and with `strict` when a
 * SHOULD or MAY property fails too; 0 otherwise. A result's level is its own `level`, else its
 * property's (in `properties`, the report's), else MUST.
 */
export function exitCodeFor(
  results: RunReport['results'],
  properties: ReadonlyArray<{ id: string; level: Level }>,
  options: { shard?: boolean; strict?: boolean } = {},
): 0 | 1 | 3 {
  if (!options.shard && results.every((r) => r.status === 'unsupported')) return 3;
  return results.some((r) => gradesExit(r.status, levelOf(r, properties), options.strict ?? false)) ? 1 : 0;
}
