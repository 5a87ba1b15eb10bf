/** Writes the reports of a run (results.json and every REPORT_FORMATS entry) into one directory. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { isUnexpected } from '../model/format.js';
import { writeResults, type RunReport } from './results.js';

/**
 * The rendered reports besides results.json, in the order they are listed: adding a format is its
 * renderer and one line here.
 */
export const REPORT_FORMATS: ReadonlyArray<{ name: string; file: string; render: (report: RunReport) => string }> = [
  { name: 'junit', file: 'junit.xml', render: renderJUnit },
  { name: 'summary', file: 'summary.md', render: renderMarkdown },
  { name: 'html', file: 'index.html', render: renderHtml },
];

export interface WrittenReports {
  /** The results.json written. */
  results: string;
  /** Every other report written, by REPORT_FORMATS order. */
  reports: string[];
}

export async function writeReports(report: RunReport, outDir: string): Promise<WrittenReports> {
  await mkdir(outDir, { recursive: true });
  const results = await writeResults(report, outDir);
  const reports = REPORT_FORMATS.map((f) => join(outDir, f.file));
  await Promise.all(REPORT_FORMATS.map((f, i) => writeFile(reports[i]!, f.render(report))));
  return { results, reports };
}

/**
 * The documented exit status for a set of results: 3 when nothing ran (no result, or only unsupported
 * ones; a shard may legitimately hold none), 1 when something is unexpected, 0 otherwise.
 */
export function exitCodeFor(results: RunReport['results'], options: { shard?: boolean } = {}): 0 | 1 | 3 {
  if (!options.shard && results.every((r) => r.status === 'unsupported')) return 3;
  return results.some((r) => isUnexpected(r.status)) ? 1 : 0;
}
