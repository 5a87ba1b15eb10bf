/**
 * The property catalog (issue 17, item 4: `list` within 1.5x the CPU of `node -e 0`): the build writes
 * what `list` prints next to the compiled properties (suite/properties/write-catalog.ts), and the built
 * CLI prints from it without importing a property module or fast-check. Here: the built catalog is
 * what the current sources give (so it cannot go stale unnoticed), `list` in every form prints what
 * rendering the property objects prints, the plain forms load no module beyond the command's own,
 * and without a catalog, or with one older than the compiled properties, `list` still prints the same
 * from the property objects.
 */
import { cpSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { dir as tmpDir } from 'tmp-promise';
import { describe, expect, it } from 'vitest';
import { CATALOG_FILES, type ListForm } from '../suite/cli/list.js';
import { DIST, PROJECT_ROOT, distPath } from '../suite/harness/paths.js';
import { allProperties } from '../suite/properties/index.js';
import { listProperties, selectedProperties } from '../suite/properties/list.js';
import { propertyCatalog } from '../suite/properties/write-catalog.js';
import { renderPropertiesJson, renderPropertiesMarkdown, renderPropertiesText } from '../suite/report/properties-list.js';

const FORMS = Object.keys(CATALOG_FILES) as ListForm[];
const FLAG: Record<ListForm, string[]> = { json: ['--json'], text: [], markdown: ['--markdown'] };
const builtFile = (form: ListForm, dist = DIST): string => join(dist, 'suite', 'properties', CATALOG_FILES[form]);

/** What `list` printed before the catalog: the property objects, rendered. */
function renderedFromProperties(form: ListForm, patterns: string[] = []): string {
  const props = selectedProperties({ patterns });
  if (form === 'json') return `${JSON.stringify(renderPropertiesJson(props), null, 2)}\n`;
  return form === 'markdown' ? renderPropertiesMarkdown(props) : renderPropertiesText(props);
}

/**
 * Every file URL the module loader loads while `node CLI args` runs, through a loader hook given on
 * the command line (data: URLs, so nothing is written). The hooks run in a thread of their own; what
 * they write reaches stderr before the process exits.
 */
async function listLoading(cli: string, args: string[]): Promise<{ stdout: string; exitCode?: number; loaded: string[] }> {
  const hooks = 'export async function load(url, context, next) { if (url.startsWith("file:")) process.stderr.write(`LOADED ${url}\\n`); return next(url, context); }';
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hooks)}`)});`;
  const r = await execa(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, cli, 'list', ...args], { reject: false, timeout: 60_000, stripFinalNewline: false });
  const loaded = r.stderr.split('\n').flatMap((l) => (l.startsWith('LOADED ') ? [l.slice('LOADED '.length)] : []));
  return { stdout: r.stdout, exitCode: r.exitCode, loaded };
}

const relativeTo = (root: string) => (url: string) => new URL(url).pathname.slice(root.length + 1);

describe('the built property catalog', () => {
  it('is what the current sources give: listProperties() and every form of list', () => {
    const catalog = propertyCatalog();
    for (const form of FORMS) expect(readFileSync(builtFile(form), 'utf8'), `${CATALOG_FILES[form]} is stale: npm run build`).toBe(catalog[form]);
    const listings = JSON.parse(readFileSync(builtFile('json'), 'utf8')) as Array<Record<string, unknown>>;
    const infoKeys = Object.keys(listProperties()[0]!);
    expect(listings.map((l) => Object.fromEntries(infoKeys.map((k) => [k, l[k]])))).toEqual(listProperties());
    expect(listings.map((l) => l.id)).toEqual(allProperties().map((p) => p.id));
    // Written after tsc: older than the compiled registry, list would not trust it.
    for (const form of FORMS) expect(statSync(builtFile(form)).mtimeMs).toBeGreaterThanOrEqual(statSync(distPath('suite/properties/index.js')).mtimeMs);
  });

  it.each(FORMS)('list (%s) prints what rendering the property objects prints, loading no property module nor fast-check', async (form) => {
    const r = await listLoading(distPath('suite/cli.js'), FLAG[form]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(renderedFromProperties(form));
    if (form === 'json') expect(JSON.parse(r.stdout)).toEqual(renderPropertiesJson(allProperties()));
    expect(r.loaded.map(relativeTo(DIST)).sort()).toEqual(['suite/cli.js', 'suite/cli/list.js', 'suite/cli/usage.js', 'suite/defaults.js']);
  });

  it.each(FORMS)('list --property (%s) selects from the catalog as run --property does, loading no property module', async (form) => {
    const patterns = ['fd.*', 'delivery.payload'];
    const r = await listLoading(distPath('suite/cli.js'), [...FLAG[form], ...patterns.flatMap((p) => ['--property', p])]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(renderedFromProperties(form, patterns));
    const loaded = r.loaded.map(relativeTo(DIST));
    expect(loaded).toContain('suite/report/properties-list.js');
    expect(loaded.filter((m) => m.startsWith('suite/properties/') || m.includes('fast-check'))).toEqual([]);
  });
});

describe('without a usable catalog', () => {
  it('list prints the same from the property objects when the catalog is missing or older than the build', async () => {
    const copy = await tmpDir({ unsafeCleanup: true, prefix: 'uds-list-catalog-' });
    try {
      // A package root of its own: package.json, node_modules (fast-check), dist (the properties import fixtures' corpora).
      cpSync(join(PROJECT_ROOT, 'package.json'), join(copy.path, 'package.json'));
      symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(copy.path, 'node_modules'));
      const dist = join(copy.path, 'dist');
      cpSync(DIST, dist, { recursive: true, filter: (from) => !from.endsWith('.map') });
      const cli = join(dist, 'suite', 'cli.js');
      const sawProperties = (loaded: string[]) => loaded.map(relativeTo(dist)).some((m) => m.startsWith('suite/properties/') && m !== 'suite/properties/index.js');
      // Older than the compiled registry (tsc ran after the catalog was written): not trusted.
      const past = new Date(statSync(join(dist, 'suite', 'properties', 'index.js')).mtimeMs - 60_000);
      for (const form of FORMS) utimesSync(builtFile(form, dist), past, past);
      for (const form of FORMS) {
        const stale = await listLoading(cli, FLAG[form]);
        expect(stale.exitCode).toBe(0);
        expect(stale.stdout).toBe(renderedFromProperties(form));
        expect(sawProperties(stale.loaded), form).toBe(true);
      }
      for (const form of FORMS) rmSync(builtFile(form, dist));
      for (const form of FORMS) {
        const missing = await listLoading(cli, FLAG[form]);
        expect(missing.exitCode).toBe(0);
        expect(missing.stdout).toBe(renderedFromProperties(form));
        expect(sawProperties(missing.loaded), form).toBe(true);
      }
      const filtered = await listLoading(cli, ['--property', 'fd.*']);
      expect(filtered.stdout).toBe(renderedFromProperties('text', ['fd.*']));
      const bad = await listLoading(cli, ['--property', 'nothing.*']);
      expect(bad.exitCode).toBe(2);
    } finally {
      await copy.cleanup();
    }
  }, 120_000);
});
