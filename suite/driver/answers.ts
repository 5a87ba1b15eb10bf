/**
 * The shape of every answer, checked with ajv against docs/driver-answers.schema.json (one schema per
 * answer under "definitions", plus "error" for {ok:false}). Loaded and compiled on first use, once per
 * process: most runs never start a driver, and a schema problem should surface as the driver check
 * that needed it, not at import.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { PROJECT_ROOT } from '../harness/paths.js';

export const ANSWER_SCHEMA_FILE = join(PROJECT_ROOT, 'docs', 'driver-answers.schema.json');
/** The key the schema is registered under, so each definition can be referred to by name. */
const SCHEMA_KEY = 'driver-answers';

let ajv: Ajv | undefined;
const validators = new Map<string, ValidateFunction | null>();

/** The validator of one definition ("send", "error"), or null when the schema has none by that name. */
function validatorFor(name: string): ValidateFunction | null {
  if (!ajv) {
    const schema = JSON.parse(readFileSync(ANSWER_SCHEMA_FILE, 'utf8')) as { definitions?: Record<string, unknown> };
    const fresh = new Ajv({ allErrors: true, strict: false });
    fresh.addSchema(schema, SCHEMA_KEY);
    for (const definition of Object.keys(schema.definitions ?? {})) validators.set(definition, null);
    ajv = fresh;
  }
  let v = validators.get(name);
  if (v === null) {
    v = ajv.compile({ $ref: `${SCHEMA_KEY}#/definitions/${name}` });
    validators.set(name, v);
  }
  return v ?? null;
}

/**
 * What is wrong with an answer to cmd (ok: its command's definition; not ok: "error"), as one line,
 * or undefined when it has the documented shape. A command the protocol does not define (a test's
 * "frobnicate") has no answer schema: only an {ok:false} answer to it is checked.
 */
export function answerProblem(cmd: string, answer: Record<string, unknown>): string | undefined {
  const ok = answer.ok === true;
  const name = ok ? cmd : 'error';
  const validate = validatorFor(name);
  if (!validate || validate(answer)) return undefined;
  const what = ok ? `the ${cmd} answer` : `the error answer to ${cmd}`;
  return `${what} does not fit docs/driver-answers.schema.json#/definitions/${name}: ${describe(validate.errors ?? [])}`;
}

/** ajv's errors as one short phrase: "sent must be integer; data must match pattern ...". */
function describe(errors: ErrorObject[]): string {
  const phrases = errors.slice(0, 3).map((e) => {
    const where = e.instancePath === '' ? 'it' : e.instancePath.slice(1).replace(/\//g, '.');
    const extra = e.keyword === 'enum' ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})` : '';
    return `${where} ${e.message ?? 'is invalid'}${extra}`;
  });
  return phrases.join('; ') + (errors.length > 3 ? `; and ${errors.length - 3} more` : '');
}
