/**
 * The property catalog the build writes next to the compiled properties (package.json's `build` and
 * `prepare` run `node dist/suite/properties/write-catalog.js` after tsc): what `uds-conformance list`
 * prints, in each of its forms, rendered here from the property objects by report/properties-list.ts.
 *   catalog.json  `list --json`: every property's listing, in report order (also the data a
 *                 `list --property GLOB` selects from and renders)
 *   catalog.txt   `list`
 *   catalog.md    `list --markdown` (docs/properties.md)
 * suite/cli/list.ts prints from these instead of importing the ~70 property modules and fast-check to
 * read the same data. test/list-catalog.test.ts checks the built files against the current sources.
 */
import { realpathSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CATALOG_FILES, type ListForm } from '../cli/list.js';
import { renderPropertiesJson, renderPropertiesMarkdown, renderPropertiesText } from '../report/properties-list.js';
import { selectedProperties } from './list.js';

/** Exactly what `list` prints in each form without --property. */
export function propertyCatalog(): Record<ListForm, string> {
  const properties = selectedProperties();
  return {
    json: `${JSON.stringify(renderPropertiesJson(properties), null, 2)}\n`,
    text: renderPropertiesText(properties),
    markdown: renderPropertiesMarkdown(properties),
  };
}

/**
 * Writes each file under a temporary name and renames it, so a `list` running meanwhile reads an old
 * file or a new one, never half of one.
 */
export function writePropertyCatalog(dir: string = fileURLToPath(new URL('.', import.meta.url))): void {
  const catalog = propertyCatalog();
  for (const form of Object.keys(CATALOG_FILES) as ListForm[]) {
    const file = `${dir}/${CATALOG_FILES[form]}`;
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, catalog[form]);
    renameSync(partial, file);
  }
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (isMain()) writePropertyCatalog();
