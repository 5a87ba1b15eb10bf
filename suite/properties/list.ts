/**
 * The property catalogue as data: what `uds-conformance list [--property GLOB]` prints, and the public
 * API's listProperties. The filter is the run's own (plan.ts selectProperties: ids or globs like
 * `fd.*`), so a pattern lists exactly the properties `run --property` with it would run.
 */
import type { PropertyInfo } from '../model/types.js';
import { propertyInfo, selectProperties } from '../plan/plan.js';
import { allProperties } from './index.js';
import type { Property } from './property.js';

/** The properties the patterns select (every one without any), in report order, as the suite defines them. */
export function selectedProperties(filter: { patterns?: string[] } = {}): Property<any>[] {
  return selectProperties(allProperties(), filter.patterns ?? []);
}

/**
 * The properties the patterns select (every one without any), in report order, as plain data (their
 * socket types and address kinds filled in with the defaults): nothing of a property's check.
 */
export function listProperties(filter?: { patterns?: string[] }): PropertyInfo[] {
  return selectedProperties(filter).map(propertyInfo);
}

/** The patterns that select no property (a typo), for a usage error that names them. */
export function unmatchedPatterns(patterns: readonly string[], properties: ReadonlyArray<{ id: string }> = allProperties()): string[] {
  return patterns.filter((p) => selectProperties([...properties], [p]).length === 0);
}
