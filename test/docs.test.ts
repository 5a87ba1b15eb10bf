/**
 * Docs that cannot drift (issue 9, item 7): the generated property catalogue matches the code, the
 * README stays short, no file cites the private notes outside the repository, and every relative
 * link in the README and docs/ leads to a file that exists.
 *
 * `UPDATE_DOCS=1 npx vitest run test/docs.test.ts` rewrites docs/properties.md instead of comparing
 * (the same text as `node dist/suite/cli.js list --markdown > docs/properties.md`, without a build).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../suite/harness/paths.js';
import { allProperties } from '../suite/properties/index.js';
import { PROPERTY_DOC, renderPropertiesJson, renderPropertiesMarkdown, renderPropertiesText } from '../suite/report/properties-list.js';

const README_MAX_LINES = 150;
/** Built from parts so that this file does not cite it itself. */
const PRIVATE_NOTES = ['..', 'shared', ''].join('/');
/** The names of those notes, cited without their folder. */
const PRIVATE_NOTE_NAMES = [['uds', 'semantics'].join('-'), ['toolchain', 'md'].join('.'), ['real', 'world', 'bugs'].join('-')];

const read = (rel: string): string => readFileSync(join(PROJECT_ROOT, rel), 'utf8');

/** The files git tracks, plus the new ones it would add (untracked, not ignored), that exist. */
function repositoryFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: PROJECT_ROOT, maxBuffer: 64 * 1024 * 1024 });
  const files = out.toString('utf8').split('\0').filter(Boolean);
  return [...new Set(files)].filter((f) => !f.split('/').includes('node_modules') && existsSync(join(PROJECT_ROOT, f))).sort();
}

/** The Markdown files whose links are checked: the README and docs/*.md. */
function markdownFiles(): string[] {
  const docs = readdirSync(join(PROJECT_ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  return ['README.md', ...docs.sort()];
}

/** Relative link targets in a Markdown text (inline `[x](t)` and reference `[x]: t`), outside code. */
function relativeLinks(markdown: string): string[] {
  const prose = markdown
    .replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '')
    .replace(/`[^`\n]*`/g, '');
  const targets: string[] = [];
  for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!);
  for (const m of prose.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)) targets.push(m[1]!);
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#'));
}

describe('docs/properties.md', () => {
  it('is generated from the property objects and up to date', () => {
    const expected = renderPropertiesMarkdown(allProperties());
    if (process.env.UPDATE_DOCS === '1') writeFileSync(join(PROJECT_ROOT, PROPERTY_DOC), expected);
    const actual = existsSync(join(PROJECT_ROOT, PROPERTY_DOC)) ? read(PROPERTY_DOC) : '';
    if (actual.trimEnd() !== expected.trimEnd()) {
      expect.fail(`${PROPERTY_DOC} is stale: run \`node dist/suite/cli.js list --markdown > ${PROPERTY_DOC}\` (after \`npm run build\`)`);
    }
  });

  it('lists every property in all three forms, with the defaults filled in', () => {
    const props = allProperties();
    const json = renderPropertiesJson(props);
    expect(json.map((p) => p.id)).toEqual(props.map((p) => p.id));
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    for (const p of json) {
      expect(p.socketTypes.length).toBeGreaterThan(0);
      expect(p.addresses.length).toBeGreaterThan(0);
      expect(['seed', 'driver']).toContain(p.via);
    }
    const text = renderPropertiesText(props);
    const markdown = renderPropertiesMarkdown(props);
    for (const p of props) {
      expect(text).toContain(p.id);
      expect(markdown).toContain(`\`${p.id}\``);
    }
    expect(markdown).toContain('uds-conformance list --markdown');
  });
});

describe('README.md', () => {
  it(`is at most ${README_MAX_LINES} lines`, () => {
    const lines = read('README.md').replace(/\n$/, '').split('\n').length;
    expect(lines, `README.md has ${lines} lines; move detail into docs/`).toBeLessThanOrEqual(README_MAX_LINES);
  });
});

describe('citations', () => {
  it(`no file in the repository cites ${PRIVATE_NOTES} (notes that are not in it)`, () => {
    const needle = Buffer.from(PRIVATE_NOTES);
    const citing = repositoryFiles().filter((f) => readFileSync(join(PROJECT_ROOT, f)).includes(needle));
    expect(citing, `these files cite ${PRIVATE_NOTES}: cite a public source (a man page, a kernel or gVisor test) or nothing`).toEqual([]);
  });

  it('no file cites those notes by name either', () => {
    const citing = repositoryFiles().flatMap((f) => {
      const text = readFileSync(join(PROJECT_ROOT, f));
      return PRIVATE_NOTE_NAMES.filter((n) => text.includes(Buffer.from(n))).map((n) => `${f}: ${n}`);
    });
    expect(citing).toEqual([]);
  });
});

describe('links', () => {
  it('every relative link in README.md and docs/*.md points to an existing file', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      for (const target of relativeLinks(read(file))) {
        const path = decodeURIComponent(target.replace(/[#?].*$/, ''));
        if (!path) continue;
        const abs = resolve(PROJECT_ROOT, dirname(file), path);
        if (!existsSync(abs)) broken.push(`${file}: ${target} (no ${relative(PROJECT_ROOT, abs)})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('finds links and skips code and external addresses', () => {
    const md = '[a](docs/a.md) [b](https://x.org) [c](#top) `[d](no.md)`\n```\n[e](no.md)\n```\n[f]: ../g.md\n';
    expect(relativeLinks(md)).toEqual(['docs/a.md', '../g.md']);
  });
});
