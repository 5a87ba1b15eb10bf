/**
 * The shape of every answer, checked with ajv against docs/driver-answers.schema.json (one schema per
 * answer under "definitions", plus "error" for {ok:false}) by the one shape checker (model/shape.ts).
 * Compiled on first use, once per process: most runs never start a driver, and a schema problem should
 * surface as the driver check that needed it, not at import.
 */
import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { schemaFile, validatorFor as shapeValidator } from '../model/shape.js';

export const ANSWER_SCHEMA_FILE = schemaFile('driver-answers');

/** The definitions the schema has, read once: a command without one has no answer schema. */
let definitions: Set<string> | undefined;

/** The validator of one definition ("send", "error"), or null when the schema has none by that name. */
function validatorFor(name: string): ValidateFunction | null {
  definitions ??= new Set(Object.keys((JSON.parse(readFileSync(ANSWER_SCHEMA_FILE, 'utf8')) as { definitions?: Record<string, unknown> }).definitions ?? {}));
  return definitions.has(name) ? shapeValidator('driver-answers', name) : null;
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
