/**
 * `list`: the properties, from the property objects themselves (one definition of each). Loaded alone
 * by suite/cli.ts, so a listing loads the property registry and its renderers, not the harness's run.
 */
import { allProperties } from '../properties/index.js';
import { selectedProperties, unmatchedPatterns } from '../properties/list.js';
import { renderPropertiesJson, renderPropertiesMarkdown, renderPropertiesText } from '../report/properties-list.js';
import { EXIT, parseOwnArgs, UsageError } from './usage.js';

/** `list [--property GLOB]... [--json | --markdown]`: the properties, from the property objects themselves. */
export function listCommand(args: string[]): number {
  const { values, positionals } = parseOwnArgs('list', args, { json: { type: 'boolean' }, markdown: { type: 'boolean' }, property: { type: 'string', multiple: true } });
  if (positionals.length) throw new UsageError(`list: unexpected argument ${JSON.stringify(positionals[0])}`);
  if (values.json && values.markdown) throw new UsageError('list: give --json or --markdown, not both');
  const patterns = values.property ?? [];
  for (const p of unmatchedPatterns(patterns)) throw new UsageError(`--property ${p}: matches no property (known: ${allProperties().map((q) => q.id).join(', ')})`);
  // The filter of listProperties and of run --property (properties/list.ts), on the property objects.
  const properties = selectedProperties({ patterns });
  const text = values.json ? `${JSON.stringify(renderPropertiesJson(properties), null, 2)}\n` : values.markdown ? renderPropertiesMarkdown(properties) : renderPropertiesText(properties);
  process.stdout.write(text);
  return EXIT.ok;
}
