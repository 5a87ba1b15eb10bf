/**
 * The stylesheet and script inlined into index.html (no network, no CDN). The script is plain ES2019,
 * written without template literals so that it can live in String.raw here; it reads the report from
 * the page's <script type="application/json" id="report-data"> and renders the scorecards, filters,
 * matrix and the details of the selected cell. Hooks the browser test uses: td.cell[data-server]
 * [data-client][data-status], #detail, .result[data-property][data-case][data-socket-type][data-address],
 * input[data-filter][value], .counterexample, .replay, .sequence table.sequence-steps (th.side-subject,
 * th.side-oracle, tr[data-step], tr.differs .diff-marker). Cases are named and ordered by data.caseLabels and
 * data.caseOrder (common.ts caseLabel); the socket type and address filters offer data.socketTypes and
 * data.addresses (the values the results have) and compare each result's own fields to them.
 * Two views of the same filtered results: the server × client matrix and the property × pairing grid
 * (rows data.caseOrder, columns data.pairings; td.gcell[data-case][data-server][data-client][data-status],
 * switched by input[data-view][value=matrix|grid]); above them #unexpected lists every unexpected result
 * (li.unexpected-item[data-case][data-server][data-client] > a), each opening its result in #detail. A
 * detail panel shows the cases that apply, and the n/a ones collapsed in details.na-group. Counts are
 * worded with count() ("1 run", "2 runs"), and an empty output is "no output".
 * Longer than most files here because it is the page's whole stylesheet and script: the page must be one
 * self-contained file, and one script reads more easily than pieces joined at build time.
 */

export const HTML_CSS = String.raw`
:root { --pass:#d6f5d6; --pass-b:#2e7d32; --fail:#ffd6d6; --fail-b:#c62828; --error:#ecd9f7; --error-b:#6a1b9a;
  --xpass:#ffe3c2; --xpass-b:#e65100; --xfail:#fff6c2; --xfail-b:#9e7c00; --na:#eeeeee; --na-b:#757575; --fg:#1b1b1b; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); margin: 0; padding: 16px 24px 48px; background: #fafafa; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 20px 0 8px; } h3 { font-size: 14px; margin: 0; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: #fff; border: 1px solid #ddd; padding: 6px 8px; overflow: auto; max-height: 320px; white-space: pre-wrap; word-break: break-all; margin: 2px 0; }
a { color: #0b57d0; }
.meta { color: #555; } .meta span { margin-right: 14px; }
.partial { background: #fff3cd; border: 2px solid #b26a00; border-radius: 6px; padding: 6px 12px; font-weight: 600; margin: 8px 0; }
.chips { margin: 8px 0; } .chip { display: inline-block; border-radius: 10px; padding: 1px 9px; margin: 0 6px 4px 0; border: 1px solid; font-size: 12.5px; }
.st-pass { background: var(--pass); border-color: var(--pass-b); } .st-fail { background: var(--fail); border-color: var(--fail-b); }
.st-error { background: var(--error); border-color: var(--error-b); } .st-unexpected-pass { background: var(--xpass); border-color: var(--xpass-b); }
.st-expected-fail { background: var(--xfail); border-color: var(--xfail-b); } .st-unsupported { background: var(--na); border-color: var(--na-b); }
.st-filtered { background: #fff; color: #aaa; border-color: #ddd; }
#scorecards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 180px; }
.card .score { display: flex; align-items: center; gap: 8px; margin-top: 3px; } .card .lvl { width: 58px; font-weight: 600; font-size: 12px; }
.bar { flex: 1; height: 8px; background: #f2c4c4; border-radius: 4px; overflow: hidden; min-width: 60px; } .bar > i { display: block; height: 100%; background: #43a047; }
#filters { display: flex; flex-wrap: wrap; gap: 18px; background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; }
#filters fieldset { border: 0; margin: 0; padding: 0; } #filters legend { font-weight: 600; font-size: 12px; color: #555; padding: 0; }
#filters label { margin-right: 10px; white-space: nowrap; cursor: pointer; }
table.matrix { border-collapse: separate; border-spacing: 3px; margin-top: 6px; }
table.matrix th { font-weight: 600; padding: 4px 8px; text-align: left; white-space: nowrap; }
table.matrix thead th { text-align: center; } table.matrix .corner { color: #666; font-weight: 400; }
td.cell { min-width: 96px; height: 44px; text-align: center; border-width: 2px; border-style: solid; border-radius: 5px; cursor: pointer; padding: 2px 6px; }
td.cell:hover, td.cell:focus { outline: 3px solid #0b57d0; outline-offset: 1px; } td.cell.selected { outline: 3px solid #111; }
td.cell .mark { font-weight: 700; display: block; } td.cell .count { font-size: 12px; color: #333; }
td.none { background: repeating-linear-gradient(45deg, #f4f4f4, #f4f4f4 4px, #fafafa 4px, #fafafa 8px); border-radius: 5px; }
.peer-none { color: #777; font-style: italic; font-weight: 400; }
#detail { margin-top: 10px; } #detail .hint { color: #666; }
details.result { background: #fff; border: 1px solid #ddd; border-left-width: 6px; border-radius: 5px; margin: 6px 0; padding: 4px 10px; }
details.result.st-pass { border-left-color: var(--pass-b); } details.result.st-fail { border-left-color: var(--fail-b); }
details.result.st-error { border-left-color: var(--error-b); } details.result.st-unexpected-pass { border-left-color: var(--xpass-b); }
details.result.st-expected-fail { border-left-color: var(--xfail-b); } details.result.st-unsupported { border-left-color: var(--na-b); }
code.diff-text { background: #fde0e0; border: 1px solid #c62828; padding: 1px 4px; border-radius: 3px; }
details.result > summary { cursor: pointer; padding: 3px 0; } details.result > summary .badge { font-weight: 700; margin-right: 8px; }
details.result > summary .sub { color: #555; margin-left: 8px; font-size: 12.5px; }
dl.fields { display: grid; grid-template-columns: 150px 1fr; gap: 4px 12px; margin: 8px 0; } dl.fields dt { color: #555; font-weight: 600; } dl.fields dd { margin: 0; min-width: 0; }
.bytes { display: inline-block; background: #fff; border: 1px solid #ddd; padding: 4px 6px; margin: 2px 0; }
.bytes .row { white-space: pre; } .bytes .off { color: #888; margin-right: 10px; } .bytes .b { padding: 0 1px; } .bytes .asc { margin-left: 12px; color: #333; }
.bytes .diff { background: #c62828; color: #fff; border-radius: 2px; font-weight: 700; }
.replay-line { display: flex; gap: 6px; align-items: flex-start; } .replay-line code { background: #f2f2f2; padding: 4px 6px; border-radius: 4px; flex: 1; word-break: break-all; }
button { font: inherit; font-size: 12px; cursor: pointer; }
.sequence .equivalence { margin: 0 0 4px; } .sequence .first { margin: 0 0 6px; font-weight: 600; }
table.sequence-steps { border-collapse: collapse; background: #fff; width: 100%; table-layout: fixed; }
table.sequence-steps th, table.sequence-steps td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; white-space: pre-wrap; word-break: break-all; }
table.sequence-steps th.step, table.sequence-steps td.step { width: 84px; }
table.sequence-steps thead th { background: #f2f2f2; word-break: normal; overflow-wrap: anywhere; }
table.sequence-steps tr.not-run td { color: #888; }
table.sequence-steps tr.differs td { background: #fde0e0; border-top: 2px solid #c62828; border-bottom: 2px solid #c62828; font-weight: 600; }
.grid-wrap { overflow-x: auto; }
table.grid { border-collapse: separate; border-spacing: 2px; margin-top: 6px; }
table.grid th { font-weight: 600; padding: 2px 6px; text-align: left; white-space: nowrap; font-size: 12.5px; }
table.grid thead th.pairing { writing-mode: vertical-rl; transform: rotate(180deg); vertical-align: bottom; font-weight: 400; }
table.grid th .lvl { color: #666; font-weight: 400; font-size: 11px; }
td.gcell { min-width: 44px; text-align: center; border-width: 2px; border-style: solid; border-radius: 4px; cursor: pointer; padding: 1px 4px; font-weight: 700; font-size: 12px; }
td.gcell:hover, td.gcell:focus { outline: 3px solid #0b57d0; outline-offset: 1px; } td.gcell.selected { outline: 3px solid #111; }
#views { margin: 8px 0 0; } #views label { margin-right: 14px; cursor: pointer; font-weight: 600; }
#unexpected ul { margin: 4px 0 8px; padding-left: 20px; } #unexpected li { margin: 2px 0; }
#unexpected .badge { display: inline-block; font-weight: 700; border: 1px solid; border-radius: 4px; padding: 0 5px; font-size: 12px; }
#unexpected .sub { color: #555; } .all-expected { color: #2e7d32; font-weight: 600; }
details.na-group { margin: 8px 0; color: #555; } details.na-group > summary { cursor: pointer; }
details.result.focused { box-shadow: 0 0 0 3px #0b57d0; }
table.sequence-steps .diff-marker { display: block; color: #c62828; font-weight: 700; font-size: 12px; word-break: normal; }
`;

export const HTML_JS = String.raw`
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var report = data.report;
  var SEVERITY = ['fail', 'error', 'unexpected-pass', 'expected-fail', 'pass', 'unsupported'];
  var LABEL = { pass: 'pass', fail: 'FAIL', 'expected-fail': 'xfail', 'unexpected-pass': 'XPASS', unsupported: 'n/a', error: 'ERROR' };
  var LEVELS = ['MUST', 'SHOULD', 'MAY'];
  // Mirrors NO_PEER in suite/model/types.ts (this is browser code and imports nothing).
  var NO_PEER = '-';
  var props = {};
  report.properties.forEach(function (p, i) { props[p.id] = { p: p, order: i }; });
  var labels = new Map();
  report.results.forEach(function (r, i) { labels.set(r, (data.caseLabels || [])[i] || r.property); });
  // Sequence evidence, its shape already checked by html.ts (null where details.sequence does not fit).
  var sequences = new Map();
  report.results.forEach(function (r, i) { var q = (data.sequences || [])[i]; if (q) sequences.set(r, q); });
  var caseRank = Object.create(null);
  (data.caseOrder || []).forEach(function (label, i) { caseRank[label] = i; });
  function propOf(r) { return (props[r.property] || { p: { id: r.property, level: 'MUST', category: 'unknown', requirement: '', reference: '' } }).p; }
  function labelOf(r) { return labels.get(r); }
  function orderOf(r) { var k = caseRank[labelOf(r)]; return k === undefined ? 1e9 : k; }
  var categories = [];
  report.properties.forEach(function (p) { if (categories.indexOf(p.category) < 0) categories.push(p.category); });
  // A version 1 file read back has every result on a stream socket at a pathname.
  function typeOf(r) { return r.socketType || 'stream'; }
  function addressOf(r) { return r.address || 'pathname'; }
  var socketTypes = data.socketTypes || [];
  var addresses = data.addresses || [];
  var state = { level: {}, category: {}, status: {}, socketType: {}, address: {}, selected: null, focus: null, view: 'matrix' };
  LEVELS.forEach(function (l) { state.level[l] = true; });
  socketTypes.forEach(function (t) { state.socketType[t] = true; });
  addresses.forEach(function (a) { state.address[a] = true; });
  categories.forEach(function (c) { state.category[c] = true; });
  SEVERITY.forEach(function (s) { state.status[s] = true; });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'cls') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function visible(r) {
    var p = propOf(r);
    return state.level[p.level] !== false && state.category[p.category] !== false && state.status[r.status] &&
      state.socketType[typeOf(r)] !== false && state.address[addressOf(r)] !== false;
  }
  function worst(rs) {
    var best = -1;
    rs.forEach(function (r) { var i = SEVERITY.indexOf(r.status); if (best < 0 || i < best) best = i; });
    return best < 0 ? null : SEVERITY[best];
  }
  function held(s) { return s === 'pass' || s === 'unexpected-pass'; }
  function peerLabel(name, role) { return name === NO_PEER ? el('span', { cls: 'peer-none', text: '- (' + role + ' only)' }) : document.createTextNode(name); }
  function cellResults(s, c) { return report.results.filter(function (r) { return r.server === s && r.client === c; }); }
  // "1 run", "2 runs", "0 bytes": a count with its noun as the number wants (model/format.ts countOf).
  function count(n, noun, plural) { return n + ' ' + (n === 1 ? noun : (plural || noun + 's')); }
  function isUnexpected(s) { return s === 'fail' || s === 'error' || s === 'unexpected-pass'; }
  function pairingText(s, c) { return s + ' \u00d7 ' + c; }
  function rerender() { renderMatrix(); renderGrid(); renderDetail(); }

  function renderHeader() {
    var h = document.getElementById('header');
    var meta = [['seed', report.seed], ['runs', report.budget ? ('budget ' + report.budget.budgetMs / 1000 + ' s: ' + report.budget.minimumRuns + ' to ' + report.budget.maxRuns + ' per unit, counts depended on time') : report.runs], ['started', report.startedAt], ['duration', (report.durationMs / 1000).toFixed(1) + ' s'],
      ['tool', report.tool.name + ' ' + report.tool.version]];
    if (report.shard) meta.push(['shard', report.shard.index + '/' + report.shard.count]);
    if (report.merged) meta.push(['merged from', report.merged.from.length + ' files']);
    h.appendChild(el('div', { cls: 'meta' }, meta.map(function (m) { return el('span', null, [el('b', { text: m[0] + ': ' }), String(m[1])]); })));
    var chips = el('div', { cls: 'chips', id: 'summary' });
    SEVERITY.forEach(function (s) { chips.appendChild(el('span', { cls: 'chip st-' + s, 'data-status': s, text: LABEL[s] + ' ' + (report.summary[s] || 0) })); });
    h.appendChild(chips);
    var links = [['results.json', 'results.json'], ['junit.xml', 'junit.xml'], ['summary.md', 'summary.md']];
    if (report.coverage) links.push(['coverage of the implementations', report.coverage.html]);
    h.appendChild(el('div', { cls: 'meta' }, links.map(function (l) { return el('span', null, [el('a', { href: l[1], text: l[0] })]); })));
  }

  function renderScorecards() {
    var box = document.getElementById('scorecards');
    (data.scorecards || []).forEach(function (card) {
      var rows = LEVELS.filter(function (l) { return card.levels[l].total > 0; }).map(function (l) {
        var s = card.levels[l];
        var pct = Math.round(100 * s.held / s.total);
        return el('div', { cls: 'score', title: s.missed.length ? 'not held: ' + s.missed.join(', ') : 'all held' }, [
          el('span', { cls: 'lvl', text: l }), el('span', { cls: 'num', text: s.held + '/' + s.total }), el('span', { cls: 'bar' }, [el('i', { style: 'width:' + pct + '%' })])]);
      });
      box.appendChild(el('div', { cls: 'card', 'data-implementation': card.name }, [el('h3', { text: card.name })].concat(rows)));
    });
  }

  function checkbox(group, value, label) {
    var input = el('input', { type: 'checkbox', 'data-filter': group, value: value });
    input.checked = true;
    input.addEventListener('change', function () { state[group][value] = input.checked; rerender(); });
    return el('label', null, [input, ' ' + label]);
  }
  function renderFilters() {
    var f = document.getElementById('filters');
    f.appendChild(el('fieldset', null, [el('legend', { text: 'Level' })].concat(LEVELS.map(function (l) { return checkbox('level', l, l); }))));
    f.appendChild(el('fieldset', null, [el('legend', { text: 'Category' })].concat(categories.map(function (c) { return checkbox('category', c, c); }))));
    f.appendChild(el('fieldset', null, [el('legend', { text: 'Status' })].concat(SEVERITY.map(function (s) { return checkbox('status', s, LABEL[s]); }))));
    f.appendChild(el('fieldset', { id: 'filter-socket-type' }, [el('legend', { text: 'Socket type' })].concat(socketTypes.map(function (t) { return checkbox('socketType', t, t); }))));
    f.appendChild(el('fieldset', { id: 'filter-address' }, [el('legend', { text: 'Address' })].concat(addresses.map(function (a) { return checkbox('address', a, a); }))));
  }

  // Every unexpected result, worst first then in run order, each a link that opens its result.
  function renderUnexpected() {
    var box = document.getElementById('unexpected');
    var bad = report.results.filter(function (r) { return isUnexpected(r.status); }).sort(function (a, b) {
      return SEVERITY.indexOf(a.status) - SEVERITY.indexOf(b.status) || orderOf(a) - orderOf(b);
    });
    if (bad.length === 0) { box.appendChild(el('p', { cls: 'all-expected', text: 'No unexpected result.' })); return; }
    box.appendChild(el('h2', { text: 'Unexpected results (' + bad.length + ')' }));
    var list = el('ul', { cls: 'unexpected-list' });
    bad.forEach(function (r) {
      var a = el('a', { href: '#' + encodeURIComponent(r.server) + '|' + encodeURIComponent(r.client) + '|' + encodeURIComponent(labelOf(r)) }, [
        el('span', { cls: 'badge st-' + r.status, text: LABEL[r.status] }), ' ', el('code', { text: labelOf(r) }), ' ' + pairingText(r.server, r.client) + ' (' + (r.level || propOf(r).level) + ')']);
      a.addEventListener('click', function (e) { e.preventDefault(); select(r.server, r.client, labelOf(r)); });
      list.appendChild(el('li', { cls: 'unexpected-item', 'data-case': labelOf(r), 'data-server': r.server, 'data-client': r.client, 'data-status': r.status },
        [a, r.message ? el('span', { cls: 'sub', text: ': ' + r.message }) : null]));
    });
    box.appendChild(list);
  }

  function renderViewSwitch() {
    var box = document.getElementById('views');
    [['matrix', 'server \u00d7 client matrix'], ['grid', 'property \u00d7 pairing grid']].forEach(function (v) {
      var input = el('input', { type: 'radio', name: 'view', 'data-view': v[0], value: v[0] });
      input.checked = state.view === v[0];
      input.addEventListener('change', function () { if (input.checked) setView(v[0]); });
      box.appendChild(el('label', null, [input, ' ' + v[1]]));
    });
  }
  function setView(view) {
    state.view = view;
    document.getElementById('view-matrix').hidden = view !== 'matrix';
    document.getElementById('view-grid').hidden = view !== 'grid';
    document.querySelectorAll('input[data-view]').forEach(function (i) { i.checked = i.value === view; });
  }

  // One row per case (property, or its variant), one column per pairing; a cell is that one result.
  function renderGrid() {
    var table = document.getElementById('grid');
    table.textContent = '';
    var pairings = data.pairings || [];
    var byKey = new Map();
    report.results.forEach(function (r) { byKey.set(labelOf(r) + '\u0000' + r.server + '\u0000' + r.client, r); });
    var head = el('tr', null, [el('th', { cls: 'corner', text: 'property \u2572 server \u00d7 client' })]);
    pairings.forEach(function (p) { head.appendChild(el('th', { scope: 'col', cls: 'pairing' }, [peerLabel(p.server, 'client'), ' \u00d7 ', peerLabel(p.client, 'server')])); });
    table.appendChild(el('thead', null, [head]));
    var body = el('tbody');
    (data.caseOrder || []).forEach(function (label) {
      var row = pairings.map(function (p) { return byKey.get(label + '\u0000' + p.server + '\u0000' + p.client); });
      var any = row.filter(function (r) { return r; });
      if (any.length === 0 || !any.some(visible)) return;
      var p0 = propOf(any[0]);
      var tr = el('tr', { 'data-case': label }, [el('th', { scope: 'row' }, [el('code', { text: label }), el('span', { cls: 'lvl', text: ' ' + p0.level })])]);
      row.forEach(function (r, i) {
        var p = pairings[i];
        if (!r) { tr.appendChild(el('td', { cls: 'none', title: 'no such case for ' + pairingText(p.server, p.client) })); return; }
        var st = visible(r) ? r.status : 'filtered';
        var td = el('td', { cls: 'gcell st-' + st, 'data-case': label, 'data-server': p.server, 'data-client': p.client, 'data-status': st, tabindex: '0', role: 'button',
          title: label + ' on ' + pairingText(p.server, p.client) + ': ' + r.status + (r.message ? ': ' + r.message : '') }, [st === 'filtered' ? '\u00b7' : LABEL[st]]);
        if (state.selected && state.selected[0] === p.server && state.selected[1] === p.client && state.focus === label) td.className += ' selected';
        td.addEventListener('click', function () { select(p.server, p.client, label); });
        td.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(p.server, p.client, label); } });
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function renderMatrix() {
    var table = document.getElementById('matrix');
    table.textContent = '';
    var head = el('tr', null, [el('th', { cls: 'corner', text: 'server \u2572 client' })]);
    data.axes.clients.forEach(function (c) { head.appendChild(el('th', { scope: 'col' }, [peerLabel(c, 'server')])); });
    table.appendChild(el('thead', null, [head]));
    var body = el('tbody');
    data.axes.servers.forEach(function (s) {
      var tr = el('tr', null, [el('th', { scope: 'row' }, [peerLabel(s, 'client')])]);
      data.axes.clients.forEach(function (c) {
        var all = cellResults(s, c);
        if (all.length === 0) { tr.appendChild(el('td', { cls: 'none', title: 'no case for this pairing' })); return; }
        var vis = all.filter(visible);
        var st = worst(vis) || 'filtered';
        var applicable = vis.filter(function (r) { return r.status !== 'unsupported'; });
        var summary = vis.length === 0 ? 'filtered out' : applicable.length === 0 ? vis.length + ' n/a'
          : applicable.filter(function (r) { return held(r.status); }).length + '/' + applicable.length + ' held';
        var td = el('td', { cls: 'cell st-' + st, 'data-server': s, 'data-client': c, 'data-status': st, tabindex: '0', role: 'button',
          title: s + ' \u00d7 ' + c + ': ' + vis.length + ' of ' + count(all.length, 'property', 'properties') + ' shown' },
          [el('span', { cls: 'mark', text: st === 'filtered' ? '\u00b7' : LABEL[st] }), el('span', { cls: 'count', text: summary })]);
        if (state.selected && state.selected[0] === s && state.selected[1] === c) td.className += ' selected';
        td.addEventListener('click', function () { select(s, c); });
        td.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(s, c); } });
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  // Shows a pairing's results; with a case label, opens that result (and the n/a group holding it).
  function select(s, c, label) {
    state.selected = [s, c];
    state.focus = label || null;
    var hash = '#' + encodeURIComponent(s) + '|' + encodeURIComponent(c) + (label ? '|' + encodeURIComponent(label) : '');
    try { history.replaceState(null, '', hash); } catch (e) { /* file: URLs may refuse */ }
    rerender();
    var target = document.getElementById('detail');
    if (label) {
      var found = null;
      document.querySelectorAll('#detail .result').forEach(function (d) { if (d.getAttribute('data-case') === label) found = d; });
      if (found) {
        found.open = true;
        found.className += ' focused';
        var group = found.parentElement && found.parentElement.closest ? found.parentElement.closest('details.na-group') : null;
        if (group) group.open = true;
        target = found;
      }
    }
    if (target.scrollIntoView) target.scrollIntoView({ block: 'nearest' });
  }

  /** "@12: \"ab\\x00\"" -> { offset: 12, bytes: [97, 98, 0] }; null when it is not a byte context. */
  function parseContext(text) {
    var m = /^@(\d+): ([\s\S]*)$/.exec(text || '');
    if (!m) return null;
    var offset = Number(m[1]), rest = m[2];
    if (rest === '(no bytes)') return { offset: offset, bytes: [] };
    if (rest.length < 2 || rest.charAt(0) !== '"' || rest.charAt(rest.length - 1) !== '"') return null;
    var s = rest.slice(1, -1), bytes = [];
    for (var i = 0; i < s.length; i++) {
      var ch = s.charAt(i);
      if (ch !== '\\') { bytes.push(s.charCodeAt(i) & 0xff); continue; }
      var n = s.charAt(++i);
      if (n === 'n') bytes.push(10);
      else if (n === 'x') { bytes.push(parseInt(s.substr(i + 1, 2), 16)); i += 2; }
      else bytes.push(n.charCodeAt(0));
    }
    return { offset: offset, bytes: bytes };
  }
  function hex2(b) { return (b < 16 ? '0' : '') + b.toString(16); }
  // emptyText: what an empty context is called ("no output" for what a side printed).
  function byteView(text, diffAt, emptyText) {
    var ctx = parseContext(text);
    if (!ctx) return el('code', { cls: diffAt != null ? 'diff-text' : '', text: String(text) });
    var box = el('div', { cls: 'bytes mono', title: text });
    if (ctx.bytes.length === 0) box.appendChild(el('div', { cls: 'row' }, [el('span', { cls: 'off', text: '@' + ctx.offset }), el('span', { cls: diffAt != null ? 'b diff' : 'b', text: emptyText || '(no bytes)' })]));
    for (var start = 0; start < ctx.bytes.length; start += 16) {
      var row = el('div', { cls: 'row' }, [el('span', { cls: 'off', text: '@' + (ctx.offset + start) })]);
      var asc = el('span', { cls: 'asc' });
      for (var j = start; j < Math.min(start + 16, ctx.bytes.length); j++) {
        var b = ctx.bytes[j], isDiff = diffAt != null && ctx.offset + j === diffAt;
        row.appendChild(el('span', { cls: isDiff ? 'b diff' : 'b', title: 'offset ' + (ctx.offset + j), text: hex2(b) }));
        row.appendChild(document.createTextNode(' '));
        asc.appendChild(el('span', { cls: isDiff ? 'diff' : '', text: b >= 32 && b < 127 ? String.fromCharCode(b) : '.' }));
      }
      row.appendChild(asc);
      box.appendChild(row);
    }
    if (diffAt != null && ctx.bytes.length > 0 && diffAt >= ctx.offset + ctx.bytes.length) {
      box.appendChild(el('div', { cls: 'row' }, [el('span', { cls: 'off', text: '@' + diffAt }), el('span', { cls: 'b diff', text: '(ends here)' })]));
    }
    box.appendChild(el('div', { cls: 'row' }, [el('span', { cls: 'off', text: 'escaped' }), el('code', { text: text })]));
    return box;
  }
  function field(dl, name, value) {
    if (value == null || value === '') return;
    dl.appendChild(el('dt', { text: name }));
    dl.appendChild(el('dd', null, [typeof value === 'string' ? el('span', { text: value }) : value]));
  }
  function pre(text, cls) { return el('pre', { cls: cls || '', text: text }); }
  function processText(p) {
    var end = p.signal ? 'killed by ' + p.signal : 'exit ' + p.exitCode;
    return p.how + ', ' + end + (p.timedOut ? ' (deadline)' : '') + ', ' + (p.stdoutLength === 0 ? 'no output on stdout' : count(p.stdoutLength, 'byte') + ' of stdout') + ', ' + Math.round(p.durationMs) + ' ms' +
      (p.command ? '\n$ ' + p.command.join(' ') : '');
  }
  function counterexampleView(ce) {
    var box = el('div', { cls: 'counterexample' }, [pre(JSON.stringify(ce.input, null, 2)), el('div', { cls: 'meta', text: 'seed ' + ce.seed + ', path ' + ce.path + ', ' + count(ce.numShrinks, 'shrink') })]);
    if (ce.input && typeof ce.input === 'object') Object.keys(ce.input).forEach(function (k) {
      if (typeof ce.input[k] === 'string' && parseContext(ce.input[k])) box.appendChild(el('div', null, [el('span', { cls: 'meta', text: k + ': ' }), byteView(ce.input[k], null)]));
    });
    return box;
  }
  // The commands and both sides' outcomes in two columns, one row per step (numbered from 1); the first
  // differing row has the class "differs" and a marker that reads without colour.
  function sequenceView(q) {
    var first = q.firstDifference;
    var head = el('tr', null, [el('th', { cls: 'step', scope: 'col', text: 'step' }), el('th', { scope: 'col', text: 'command' }),
      el('th', { cls: 'side-subject', scope: 'col', text: q.subject.label }), el('th', { cls: 'side-oracle', scope: 'col', text: q.oracle.label })]);
    var body = el('tbody');
    q.commands.forEach(function (cmd, i) {
      var differs = i === first;
      var notRun = q.subject.steps[i] === 'not run' && q.oracle.steps[i] === 'not run';
      var step = el('td', { cls: 'step' }, [differs ? el('span', { cls: 'diff-marker', title: 'first differing step', text: '≠ first difference' }) : null, String(i + 1)]);
      var tr = el('tr', { cls: differs ? 'differs' : notRun ? 'not-run' : '', 'data-step': String(i + 1) },
        [step, el('td', { cls: 'command mono', text: cmd }), el('td', { cls: 'side-subject mono', text: q.subject.steps[i] }), el('td', { cls: 'side-oracle mono', text: q.oracle.steps[i] })]);
      if (differs) tr.setAttribute('aria-current', 'step');
      body.appendChild(tr);
    });
    return el('div', { cls: 'sequence' }, [
      el('p', { cls: 'equivalence', text: 'Compared: ' + q.equivalence }),
      el('p', { cls: 'first', text: first === null ? 'No step differs (' + count(q.commands.length, 'step') + ').' : 'First difference at step ' + (first + 1) + ' of ' + q.commands.length + '.' }),
      el('table', { cls: 'sequence-steps' }, [el('thead', null, [head]), body])]);
  }
  function replayView(cmd) {
    var code = el('code', { cls: 'replay', text: cmd });
    var btn = el('button', { type: 'button', text: 'copy' });
    btn.addEventListener('click', function () {
      if (navigator.clipboard) navigator.clipboard.writeText(cmd).then(function () { btn.textContent = 'copied'; }, function () { btn.textContent = 'select and copy'; });
    });
    return el('div', { cls: 'replay-line' }, [code, btn]);
  }
  // Who blame points at and how often each role's re-runs with the oracle failed: "server (server: 4/5)".
  function blameView(r) {
    if (!r.blame) return undefined;
    var runs = r.blameRuns || {};
    var counts = ['server', 'client', 'pairing'].filter(function (k) { return runs[k]; }).map(function (k) { return k + ': ' + runs[k].failed + '/' + runs[k].of; });
    return r.blame + (counts.length ? ' (' + counts.join(', ') + ')' : '');
  }
  function resultView(r) {
    var p = propOf(r), ev = r.evidence || {};
    var d = el('details', { cls: 'result st-' + r.status, 'data-property': r.property, 'data-case': labelOf(r), 'data-status': r.status,
      'data-socket-type': typeOf(r), 'data-address': addressOf(r) });
    if (r.status !== 'pass' && r.status !== 'unsupported') d.open = true;
    d.appendChild(el('summary', null, [el('span', { cls: 'badge', text: LABEL[r.status] }), el('code', { text: labelOf(r) }),
      r.flaky ? el('span', { cls: 'badge flaky', text: ' flaky ' + r.flaky.failed + '/' + r.flaky.of }) : null,
      el('span', { cls: 'sub', text: p.level + ' \u00b7 ' + p.category + ' \u00b7 ' + typeOf(r) + ' \u00b7 ' + addressOf(r) + ' \u00b7 ' + count(r.runs, 'run') + ' \u00b7 ' + r.durationMs + ' ms' })]));
    var dl = el('dl', { cls: 'fields' });
    field(dl, 'requirement', p.requirement);
    field(dl, 'socket type', typeOf(r));
    field(dl, 'address', addressOf(r));
    field(dl, 'reference', p.reference);
    field(dl, 'status', r.status);
    field(dl, 'message', r.message);
    field(dl, r.status === 'unsupported' ? 'reason' : 'known failure', r.reason);
    field(dl, 'level', r.level || p.level);
    field(dl, 'blame', blameView(r));
    if (r.flaky) field(dl, 'intermittent', 'flaky: failed ' + r.flaky.failed + ' of ' + r.flaky.of + ' re-runs');
    field(dl, 'timing', count(r.runs, 'run') + ' in ' + r.durationMs + ' ms');
    if (r.counterexample) field(dl, 'counterexample', counterexampleView(r.counterexample));
    var diffAt = ev.bytes ? ev.bytes.firstDifference : null;
    if (ev.expected != null) field(dl, 'expected', byteView(ev.expected, diffAt));
    if (ev.actual != null) field(dl, 'actual', byteView(ev.actual, diffAt, 'no output'));
    if (ev.bytes) field(dl, 'bytes', 'expected ' + count(ev.bytes.expectedLength, 'byte') + ' (sha256 ' + ev.bytes.expectedSha256.slice(0, 12) + '\u2026), got ' +
      (ev.bytes.actualLength === 0 ? 'no output' : count(ev.bytes.actualLength, 'byte') + ' (sha256 ' + ev.bytes.actualSha256.slice(0, 12) + '\u2026)') + (diffAt != null ? '; first difference at offset ' + diffAt : ''));
    if (ev.bytes && ev.bytes.actualContext && ev.actual !== ev.bytes.actualContext) field(dl, 'stdout excerpt', byteView(ev.bytes.actualContext, diffAt, 'no output'));
    ['server', 'client'].forEach(function (side) {
      var s = ev[side];
      if (!s) return;
      field(dl, side, pre(processText(s)));
      if (s.stderr) field(dl, side + ' stderr', pre(s.stderr.length > 4000 ? s.stderr.slice(0, 4000) + '\n[\u2026]' : s.stderr, 'stderr'));
    });
    var seq = sequences.get(r);
    if (seq) {
      field(dl, 'sequence', sequenceView(seq));
      var rest = {}, more = false;
      Object.keys(ev.details).forEach(function (k) { if (k !== 'sequence') { rest[k] = ev.details[k]; more = true; } });
      if (more) field(dl, 'details', pre(JSON.stringify(rest, null, 2)));
    } else if (ev.details) field(dl, 'details', pre(JSON.stringify(ev.details, null, 2)));
    if (r.observed) field(dl, 'observed', pre(JSON.stringify(r.observed, null, 2)));
    if (r.replay) field(dl, 'replay', replayView(r.replay));
    d.appendChild(dl);
    return d;
  }
  function renderDetail() {
    var box = document.getElementById('detail');
    box.textContent = '';
    if (!state.selected) { box.appendChild(el('p', { cls: 'hint', text: 'Click a cell of the matrix to see its properties.' })); return; }
    var s = state.selected[0], c = state.selected[1];
    var all = cellResults(s, c).sort(function (a, b) { return orderOf(a) - orderOf(b); });
    var vis = all.filter(visible);
    var applicable = vis.filter(function (r) { return r.status !== 'unsupported'; });
    var na = vis.filter(function (r) { return r.status === 'unsupported'; });
    box.appendChild(el('h2', null, [peerLabel(s, 'client'), ' \u00d7 ', peerLabel(c, 'server'), el('span', { cls: 'meta',
      text: '  (server \u00d7 client: ' + applicable.length + ' applicable, ' + na.length + ' n/a; ' + vis.length + ' of ' + count(all.length, 'case') + ' shown)' })]));
    applicable.forEach(function (r) { box.appendChild(resultView(r)); });
    // The cases that do not apply to this pairing, collapsed: most of a pairing's list is n/a otherwise.
    if (na.length) {
      var group = el('details', { cls: 'na-group' }, [el('summary', { text: 'n/a: ' + count(na.length, 'case') + ' that do' + (na.length === 1 ? 'es' : '') + ' not apply to this pairing' })]);
      na.forEach(function (r) { group.appendChild(resultView(r)); });
      box.appendChild(group);
    }
  }

  renderHeader();
  renderUnexpected();
  renderScorecards();
  renderFilters();
  renderViewSwitch();
  var hash = location.hash.slice(1).split('|').map(function (x) { try { return decodeURIComponent(x); } catch (e) { return x; } });
  if ((hash.length === 2 || hash.length === 3) && cellResults(hash[0], hash[1]).length) select(hash[0], hash[1], hash[2]);
  else rerender();
  document.body.setAttribute('data-ready', 'true');
})();
`;
