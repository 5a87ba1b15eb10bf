/**
 * index.html: one self-contained file (inline CSS, inline script, the report as inline JSON; no network,
 * no CDN). Servers are rows and clients columns; each cell is coloured by its worst status and opens the
 * cell's cases, each named by its case label (requirement, reference, status, counterexample as bytes with the first differing
 * offset highlighted, stderr and stdout excerpts, timing, blame, replay; and its socket type and address
 * kind; for a sequence property, both sides' outcomes step by step beside the commands, the first
 * differing step marked). Filters by level, category, status, socket type and address kind (the last two offered for the
 * values the report's results have); one scorecard per implementation. The page's script is in
 * html-assets.ts.
 */
import { HTML_CSS, HTML_JS } from './html-assets.js';
import { ADDRESS_KINDS, SOCKET_TYPES } from '../driver/protocol.js';
import { byPairing, caseLabel, matrixAxes, reportCases, scorecards, STATUS_LABEL, SEVERITY } from './common.js';
import { partialNote, type RunReport } from './results.js';
import { sequenceEvidence } from './sequence.js';

/** Text for HTML element content or a quoted attribute. */
export function htmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** JSON that can sit inside a <script> element: nothing in it can close the element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function rank<T>(all: readonly T[], v: T): number {
  const i = all.indexOf(v);
  return i < 0 ? all.length : i;
}

export function renderHtml(report: RunReport): string {
  // The page names and orders cases by their labels, computed here; it filters by the results' socket
  // types and address kinds, offering those listed here, in the protocol's order (foreign values last).
  const inOrder = <T extends string>(all: readonly T[], values: T[]): T[] => [...new Set(values)].sort((a, b) => rank(all, a) - rank(all, b) || a.localeCompare(b));
  const data = {
    report,
    axes: matrixAxes(report),
    scorecards: scorecards(report),
    /** The case label of each result, by index. */
    caseLabels: report.results.map(caseLabel),
    /**
     * The sequence evidence of each result, by index: its details.sequence when that has the shape
     * (checked here, once), else null, and the page shows the details as plain JSON.
     */
    sequences: report.results.map((r) => sequenceEvidence(r.evidence?.details) ?? null),
    /** Every case label, in run order: the rows of the grid view. */
    caseOrder: reportCases(report).map((c) => c.label),
    /** Every pairing with results, in matrix order (row-major): the columns of the grid view. */
    pairings: byPairing(report).map((g) => ({ server: g.server, client: g.client })),
    /** The socket types and address kinds the results have, stream and pathname first. */
    socketTypes: inOrder(SOCKET_TYPES, report.results.map((r) => r.socketType)),
    addresses: inOrder(ADDRESS_KINDS, report.results.map((r) => r.address)),
  };
  const partial = partialNote(report);
  const title = `uds-conformance report${report.shard ? ` (shard ${report.shard.index}/${report.shard.count})` : ''}${partial ? ' (partial run)' : ''}`;
  // Without JavaScript the page still says what happened.
  const noscript = SEVERITY.map((s) => `${STATUS_LABEL[s]} ${report.summary[s] ?? 0}`).join(' · ');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>${htmlEscape(title)}</title>
<style>${HTML_CSS}</style>
</head>
<body>
<header id="header"><h1>${htmlEscape(title)}</h1></header>
${partial ? `<p id="partial" class="partial">${htmlEscape(partial)}</p>\n` : ''}<noscript><p>${htmlEscape(`${report.results.length} results: ${noscript}. This page needs JavaScript for the matrix; results.json has everything.`)}</p></noscript>
<section id="unexpected"></section>
<h2>Scorecards</h2>
<p class="meta">Per implementation and level: the properties it held out of those that applied to it. A failing pairing counts against both sides unless the result blames one.</p>
<section id="scorecards"></section>
<h2 id="results-heading">Results</h2>
<section id="filters"></section>
<section id="views"></section>
<div id="view-matrix">
<p class="meta">Rows are servers, columns clients; "-" is the absent side of a client-only or server-only property. A cell is coloured by its worst status; click it for its properties.</p>
<table id="matrix" class="matrix"></table>
</div>
<div id="view-grid" hidden>
<p class="meta">Rows are properties (each case: socket type and address kind in brackets when not stream and pathname), columns server × client pairings; click a cell for its result.</p>
<div class="grid-wrap"><table id="grid" class="grid"></table></div>
</div>
<section id="detail"></section>
<script type="application/json" id="report-data">${scriptJson(data)}</script>
<script>${HTML_JS}</script>
</body>
</html>
`;
}
