/** What every command that prints a report shares: the width and colour of stdout, and the lines naming the written files. */
import { colorEnabled, terminalWidth } from '../report/layout.js';
import type { WrittenReports } from '../report/write.js';

/** The width and colour of what goes to stdout (report/layout.ts: COLUMNS, the TTY, NO_COLOR, FORCE_COLOR). */
export function stdoutFit(): { width: number; color: boolean } {
  return { width: terminalWidth(process.stdout, process.env), color: colorEnabled(process.stdout, process.env) };
}

/** One path a line: three on one line would not fit a terminal. */
export function reportLines(w: WrittenReports): string {
  return `results: ${w.results}\nreports: ${w.reports.join('\n         ')}\n`;
}
