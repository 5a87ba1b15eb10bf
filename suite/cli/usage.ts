/**
 * What the command line says before it loads anything: the help text, the flags, the exit codes and
 * the usage error. `uds-conformance --help` prints HELP from here with nothing else loaded (suite/cli.ts),
 * so this module imports only node: built-ins and defaults.ts.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { BUDGET, DEFAULTS, RANGES } from '../defaults.js';

export const EXIT = { ok: 0, unexpected: 1, usage: 2, harness: 3 } as const;

export class UsageError extends Error {}

/** Every flag of every command, grouped; test/cli-list.test.ts checks that each OPTIONS flag is here. */
export const HELP = `uds-conformance: conformance suite for Unix domain socket implementations

Usage:
  uds-conformance run [options]      run every property over every server x client pairing
  uds-conformance replay [options]   re-run one case: --property, --server/--client, --seed, --path
  uds-conformance list [--property GLOB]... [--json | --markdown]   the properties: id, level, category,
                                     socket types, requirement
  uds-conformance report --from FILE [--out DIR]   re-render the reports from a results.json
  uds-conformance merge FILE... [--out DIR]        merge the results.json of shards into one set of reports
  uds-conformance compare BASE.json HEAD.json [--out DIR]   what changed per cell and property
                                     (compare.md, compare.json); exit 1 when anything regressed
  uds-conformance --version, -V      the package's version
  uds-conformance --help, -h         this text

Every run, report and merge writes into --out (default reports/): results.json, junit.xml, summary.md
(for a CI job summary) and index.html (the matrix; one self-contained file).

Options of run, selection (what runs):
  --property ID       only this property; globs like 'delivery.*' work (repeatable)
  --exclude ID        leave this property out; globs work (repeatable; after --property)
  --server NAME       only pairings with this server (repeatable)
  --client NAME       only pairings with this client (repeatable)
  --exclude-pairing SERVER×CLIENT   leave this pairing out (x for ×; names or globs, - for the absent
                      side of a single-role property, e.g. 'c-original×*' or --exclude-pairing=-×ts-net;
                      repeatable)
  --shard i/n         run only part i of n of the cases (needs --seed; merge the n results.json)
  --dry-run           print the units that would run and their count, then exit; starts no process, so
                      whether a driver unit applies (its drivers' hello) is left open and said so
Subjects (your implementations):
  --subject FILE      a third-party implementation described by a manifest (repeatable)
  --subjects-only     only pairings with a subject in them
  --update-expectations  write each subject's failures back as its expected failures
Execution:
  --runs N            generated cases per property and pairing (default ${DEFAULTS.runs}; a property may cap it)
  --budget TIME       fit the run to TIME (60s, 2m, 1500ms): every unit gets its examples and ${BUDGET.minimumRuns} runs,
                      the rest goes where runs are cheapest, up to --runs per unit (default ${BUDGET.maxRuns}); run
                      counts then depend on the machine, and the report says so
  --seed N            run seed (default: random); every result records the seed to replay it
  --jobs N            most cases in parallel (default: adapts to the work, up to 8 per core)
  --no-shrink         report the first failing input without shrinking it
  --deadline MS       per-case deadline in milliseconds (default ${DEFAULTS.caseDeadlineMs})
  --unit-budget MS    time budget of one unit (property x pairing): shrinking stops there (default ${DEFAULTS.unitBudgetMs})
  --quiet-ms MS       a client that has every byte and then nothing for this long ends the case (default ${DEFAULTS.quietMs})
  --coverage          run the JavaScript implementations as processes under NODE_V8_COVERAGE and
                      write a c8 report of the lines they ran (text on stdout, HTML in DIR/coverage/)
  --perf              after the cases, measure throughput (MB/s) and connect-to-first-byte latency of
                      every pairing whose server takes a payload (64 MiB, median of 3 sessions, one
                      pairing at a time): results.json "perf", and two columns of the matrix
Output:
  --out DIR           where reports go (default: reports/); checked before any case runs, and locked
                      for the run: a second run into the same DIR exits 2 naming the first one's pid
  --strict            SHOULD and MAY failures fail the run too (exit 1), as MUST failures do
  The terminal report fits COLUMNS, else the terminal's width, else 80 columns: the matrix when it fits,
  else one line per pairing. Colour: on for a terminal, off with NO_COLOR, forced with FORCE_COLOR=1.
Options of replay:
  --property ID --server NAME --client NAME --seed N --path PATH   (as printed in a report)
  --socket-type T --address A   the unit's socket type and address kind, when not stream/pathname
  --subject FILE      the subject's manifest, when the case has one (as printed in the replay line)
Options of list:
  --property GLOB     only the properties it matches, as run selects them (repeatable)
  --json | --markdown for tools | docs/properties.md

Ranges: --runs ${RANGES.runs.min}..${RANGES.runs.max}, --jobs ${RANGES.jobs.min}..${RANGES.jobs.max}, --deadline ${RANGES.caseDeadlineMs.min}..${RANGES.caseDeadlineMs.max},
--unit-budget ${RANGES.unitBudgetMs.min}..${RANGES.unitBudgetMs.max}, --quiet-ms ${RANGES.quietMs.min}..${RANGES.quietMs.max}, --seed ${RANGES.seed.min}..${RANGES.seed.max}; outside them, exit 2.

Exit status: 0 nothing unexpected (SHOULD and MAY failures are reported but exit 0 unless --strict),
1 an unexpected MUST failure (with --strict any failure), an unexpected pass or a harness error,
2 bad usage, 3 nothing ran or the harness failed.
Ctrl-C (SIGINT) or SIGTERM during run: no new case starts, the cases in flight are stopped, and the
reports of what finished are written, marked "partial run"; exit 130 or 143. A second Ctrl-C ends it at once.
report and merge exit as a run of their results would (--strict too); a bad file is bad usage (2), named with its field.
`;

export const OPTIONS = {
  runs: { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  server: { type: 'string', multiple: true },
  client: { type: 'string', multiple: true },
  property: { type: 'string', multiple: true },
  exclude: { type: 'string', multiple: true },
  'exclude-pairing': { type: 'string', multiple: true },
  'dry-run': { type: 'boolean' },
  jobs: { type: 'string' },
  'no-shrink': { type: 'boolean' },
  deadline: { type: 'string' },
  'unit-budget': { type: 'string' },
  budget: { type: 'string' },
  'quiet-ms': { type: 'string' },
  path: { type: 'string' },
  shard: { type: 'string' },
  coverage: { type: 'boolean' },
  perf: { type: 'boolean' },
  subject: { type: 'string', multiple: true },
  'subjects-only': { type: 'boolean' },
  'update-expectations': { type: 'boolean' },
  strict: { type: 'boolean' },
  'socket-type': { type: 'string' },
  address: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

/** A command's own flags (report, merge, compare, list), strict, with positionals. */
export function parseOwnArgs<const O extends NonNullable<ParseArgsConfig['options']>>(command: string, args: string[], options: O): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: true }>> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
}
