/**
 * The one shape checker: every JSON the suite reads (manifests, expectations files, results.json,
 * driver answers) is checked by ajv against its published JSON Schema in docs/, compiled once. A problem
 * is a ShapeError naming the field (`results[3].status`) in the words users see.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { PROJECT_ROOT } from '../harness/paths.js';

/** The schemas, by the name callers use, and their files under docs/. */
const SCHEMA_FILES = {
  manifest: 'subject-manifest.schema.json',
  expectations: 'expectations.schema.json',
  results: 'results.schema.json',
  'driver-answers': 'driver-answers.schema.json',
} as const;
export type SchemaName = keyof typeof SCHEMA_FILES;

export const schemaFile = (name: SchemaName): string => join(PROJECT_ROOT, 'docs', SCHEMA_FILES[name]);

export class ShapeError extends Error {
  constructor(
    /** The offending field, dotted and indexed (`results[3].status`), or `(top level)`. */
    readonly field: string,
    message: string,
    readonly errors: ErrorObject[] = [],
  ) {
    super(message);
    this.name = 'ShapeError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

let published = false;
/** Every schema under its published $id too, so one can $ref another (a manifest's inline expectations). */
function addPublishedSchemas(): void {
  if (published) return;
  published = true;
  for (const name of Object.keys(SCHEMA_FILES) as SchemaName[]) ajv.addSchema(JSON.parse(readFileSync(schemaFile(name), 'utf8')) as Record<string, unknown>);
}

/** The validator of a schema, or of one of its definitions (`driver-answers#recv`). */
export function validatorFor(name: SchemaName, definition?: string): ValidateFunction {
  const key = definition ? `${name}#${definition}` : name;
  let v = compiled.get(key);
  if (!v) {
    if (!compiled.has(name)) {
      addPublishedSchemas();
      const schema = JSON.parse(readFileSync(schemaFile(name), 'utf8')) as Record<string, unknown>;
      const root = ajv.compile({ ...schema, $id: `uds:${name}` });
      compiled.set(name, root);
    }
    v = definition ? ajv.getSchema(`uds:${name}#/definitions/${definition}`) : compiled.get(name);
    if (!v) throw new Error(`no schema ${key}`);
    compiled.set(key, v);
  }
  return v;
}

/** Returns doc typed as T when it matches the schema; throws ShapeError naming the first bad field. */
export function checkShape<T>(name: SchemaName, doc: unknown, definition?: string): T {
  const validate = validatorFor(name, definition);
  if (validate(doc)) return doc as T;
  const errors = validate.errors ?? [];
  const { field, message } = describeShapeError(pickError(errors));
  throw new ShapeError(field, message, errors);
}

/** anyOf/oneOf branches report their own errors; the error outside any branch says it best. */
function pickError(errors: ErrorObject[]): ErrorObject {
  return errors.find((e) => !/\/(anyOf|oneOf)\/\d+/.test(e.schemaPath) && e.keyword !== 'if') ?? errors[0]!;
}

/** `/results/3/status` → `results[3].status`. */
function fieldPath(pointer: string): string {
  let out = '';
  for (const part of pointer.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(key) ? `[${key}]` : out ? `.${key}` : key;
  }
  return out;
}

export function describeShapeError(e: ErrorObject): { field: string; message: string } {
  const base = fieldPath(e.instancePath);
  const join = (name: string): string => (base ? `${base}.${name}` : name);
  if (e.keyword === 'additionalProperties') return { field: join((e.params as { additionalProperty: string }).additionalProperty), message: 'unknown field' };
  if (e.keyword === 'required') return { field: join((e.params as { missingProperty: string }).missingProperty), message: 'is required' };
  if (e.keyword === 'enum') return { field: base || '(top level)', message: `expected one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` };
  return { field: base || '(top level)', message: e.message ?? e.keyword };
}
