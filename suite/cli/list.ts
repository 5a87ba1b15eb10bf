/**
 * `list`: the properties, printed from the property catalog the build writes next to the compiled
 * properties (suite/properties/write-catalog.ts): each plain form (`list`, `--json`, `--markdown`) is
 * one file read; `--property GLOB` selects from catalog.json's listings and renders them with
 * report/properties-list.ts. Importing the property modules to read the same data costs Node's loader
 * about 70 modules and fast-check, over three times the CPU of `node -e 0` (issue 17, item 4: start-up
 * within 1.5x). Without a catalog (a source checkout), or with one older than the compiled properties
 * (tsc run without the build's catalog step), the listing comes from the property objects themselves.
 */
import { readFileSync, statSync } from 'node:fs';
import type { PropertyListing } from '../report/properties-list.js';
import { EXIT, parseOwnArgs, UsageError } from './usage.js';

/** The catalog's files by `list`'s output form, next to the compiled properties (write-catalog.ts writes them). */
export const CATALOG_FILES = { json: 'catalog.json', text: 'catalog.txt', markdown: 'catalog.md' } as const;
export type ListForm = keyof typeof CATALOG_FILES;

const PROPERTIES_DIR = new URL('../properties/', import.meta.url);
/** The compiled registry: tsc rewrites it on every build, so a catalog file older than it may be stale. */
const REGISTRY = new URL('index.js', PROPERTIES_DIR);

/**
 * One catalog file as the build wrote it (bytes: printed as they are, never decoded); undefined when
 * there is none or it predates the compiled properties.
 */
export function readCatalogFile(form: ListForm): Buffer | undefined {
  const file = new URL(CATALOG_FILES[form], PROPERTIES_DIR);
  try {
    if (statSync(file).mtimeMs < statSync(REGISTRY).mtimeMs) return undefined;
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Every property's listing: the catalog's, or the property objects' when there is no catalog. */
async function allListings(): Promise<PropertyListing[]> {
  const built = readCatalogFile('json');
  if (built !== undefined) return JSON.parse(built.toString('utf8')) as PropertyListing[];
  const [{ allProperties }, { renderPropertiesJson }] = await Promise.all([import('../properties/index.js'), import('../report/properties-list.js')]);
  return renderPropertiesJson(allProperties());
}

/**
 * The plain forms, recognised without util.parseArgs: its first call loads its module, about a third
 * of what a `list` may cost beyond `--help`. Anything else goes through parseArgs, errors included.
 */
const PLAIN_FORMS = new Map<string | undefined, ListForm>([[undefined, 'text'], ['--json', 'json'], ['--markdown', 'markdown']]);

/** The output form and the --property patterns that args ask for. */
function listArgs(args: string[]): { form: ListForm; patterns: string[] } {
  const plain = args.length <= 1 ? PLAIN_FORMS.get(args[0]) : undefined;
  if (plain) return { form: plain, patterns: [] };
  const { values, positionals } = parseOwnArgs('list', args, { json: { type: 'boolean' }, markdown: { type: 'boolean' }, property: { type: 'string', multiple: true } });
  if (positionals.length) throw new UsageError(`list: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.json && values.markdown) throw new UsageError('list: give --json or --markdown, not both');
  return { form: values.json ? 'json' : values.markdown ? 'markdown' : 'text', patterns: values.property ?? [] };
}

/** `list [--property GLOB]... [--json | --markdown]`: the properties, as the suite defines them. */
export async function listCommand(args: string[]): Promise<number> {
  const { form, patterns } = listArgs(args);
  const built = patterns.length === 0 ? readCatalogFile(form) : undefined;
  if (built !== undefined) {
    process.stdout.write(built);
    return EXIT.ok;
  }
  const [all, { selectProperties }, render] = await Promise.all([allListings(), import('../plan/plan.js'), import('../report/properties-list.js')]);
  // The filter of listProperties and of run --property (plan.ts), on the listings' ids.
  for (const p of patterns) {
    if (selectProperties(all, [p]).length === 0) throw new UsageError(`--property ${p}: matches no property (known: ${all.map((q) => q.id).join(', ')})`);
  }
  const listings = selectProperties(all, patterns);
  const text = form === 'json' ? `${JSON.stringify(listings, null, 2)}\n` : form === 'markdown' ? render.renderPropertiesMarkdown(listings) : render.renderPropertiesText(listings);
  process.stdout.write(text);
  return EXIT.ok;
}
