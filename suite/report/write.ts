/** Writes the four reports of a run (results.json, junit.xml, summary.md, index.html) into one directory. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderHtml } from './html.js';
import { renderJUnit } from './junit.js';
import { renderMarkdown } from './markdown.js';
import { writeResults, type RunReport } from './results.js';

export interface WrittenReports {
  results: string;
  junit: string;
  summary: string;
  html: string;
}

export async function writeReports(report: RunReport, outDir: string): Promise<WrittenReports> {
  await mkdir(outDir, { recursive: true });
  const results = await writeResults(report, outDir);
  const files = { junit: join(outDir, 'junit.xml'), summary: join(outDir, 'summary.md'), html: join(outDir, 'index.html') };
  await Promise.all([
    writeFile(files.junit, renderJUnit(report)),
    writeFile(files.summary, renderMarkdown(report)),
    writeFile(files.html, renderHtml(report)),
  ]);
  return { results, ...files };
}

/**
 * The documented exit status for a set of results: 3 when nothing ran (no result, or only unsupported
 * ones; a shard may legitimately hold none), 1 when something is unexpected, 0 otherwise.
 */
export function exitCodeFor(results: RunReport['results'], options: { shard?: boolean } = {}): 0 | 1 | 3 {
  if (!options.shard && results.every((r) => r.status === 'unsupported')) return 3;
  return results.some((r) => r.status === 'fail' || r.status === 'unexpected-pass' || r.status === 'error') ? 1 : 0;
}
