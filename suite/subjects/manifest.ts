/**
 * Subject manifests: third-party implementations described in JSON (docs/subject-manifest.schema.json),
 * validated strictly before anything runs. Every problem names the file and the field.
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import type { CommandTemplate, Expectation, Implementation } from '../model/types.js';
import { checkShape, schemaFile, ShapeError } from '../model/shape.js';

export const SCHEMA_FILE = schemaFile('manifest');
const PLACEHOLDERS = new Set(['path', 'payload', 'dir']);

/** A manifest problem: exits 2 with "<file>: <field>: <message>". */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
    this.name = 'ManifestError';
  }
}

interface RoleJson {
  command: string[];
  env?: Record<string, string>;
  cwd?: string;
  stdin?: string;
}
interface ManifestJson {
  name: string;
  description?: string;
  server?: RoleJson;
  client?: RoleJson;
  driver?: RoleJson;
  expectations?: Record<string, Expectation>;
  expectationsFile?: string;
}

export interface Subject {
  file: string;
  implementation: Implementation;
  /** Where --update-expectations writes: the manifest itself or its expectationsFile. */
  expectationsFile: string;
  expectationsInManifest: boolean;
}

/** "at position N" from JSON.parse turned into line and column. */
function jsonError(file: string, text: string, err: Error): ManifestError {
  const m = /position (\d+)/.exec(err.message);
  if (!m) return new ManifestError(file, '(json)', `invalid JSON: ${err.message}`);
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return new ManifestError(file, '(json)', `invalid JSON at line ${line}, column ${column}: ${err.message.replace(/ in JSON at position \d+.*$/, '')}`);
}


function findExecutable(name: string, baseDir: string): string | undefined {
  const isExe = (p: string): boolean => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (name.includes('/')) {
    const p = resolve(baseDir, name);
    return isExe(p) ? p : undefined;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExe(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function checkPlaceholders(file: string, field: string, value: string, allowed: Set<string>): void {
  for (const m of value.matchAll(/\{([^{}]*)\}/g)) {
    if (!allowed.has(m[1]!)) {
      throw new ManifestError(file, field, `unknown placeholder {${m[1]}} (known: ${[...allowed].map((p) => `{${p}}`).join(', ')})`);
    }
  }
}

/** A role's command made runnable: executable found, relative paths resolved against the manifest. */
function roleTemplate(file: string, role: 'server' | 'client' | 'driver', json: RoleJson): CommandTemplate {
  const base = dirname(file);
  const allowed = role === 'server' ? PLACEHOLDERS : new Set(['path', 'dir']);
  json.command.forEach((arg, i) => checkPlaceholders(file, `${role}.command[${i}]`, arg, allowed));
  for (const [k, v] of Object.entries(json.env ?? {})) checkPlaceholders(file, `${role}.env.${k}`, v, allowed);
  if (json.stdin !== undefined) checkPlaceholders(file, `${role}.stdin`, json.stdin, allowed);
  const [exe, ...args] = json.command as [string, ...string[]];
  if (/\{/.test(exe)) throw new ManifestError(file, `${role}.command[0]`, 'the executable cannot be a placeholder');
  const found = findExecutable(exe, base);
  if (!found) {
    throw new ManifestError(file, `${role}.command[0]`, `executable ${JSON.stringify(exe)} not found ${exe.includes('/') ? `(relative to ${base})` : 'on PATH'}`);
  }
  // Arguments naming files next to the manifest (driver.py) become absolute: subjects run in the case dir.
  const resolved = args.map((a) => (!a.startsWith('-') && !a.includes('{') && !isAbsolute(a) && existsSync(resolve(base, a)) ? resolve(base, a) : a));
  const template: CommandTemplate = { command: [found, ...resolved] };
  if (json.env) template.env = json.env;
  if (json.cwd !== undefined) {
    const cwd = resolve(base, json.cwd);
    if (!existsSync(cwd)) throw new ManifestError(file, `${role}.cwd`, `directory ${cwd} does not exist`);
    template.cwd = cwd;
  }
  if (json.stdin !== undefined) template.stdin = json.stdin;
  return template;
}

function readJson(file: string, field: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(file, field, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw jsonError(file, text, err as Error);
  }
}

/** Loads and validates one manifest; throws ManifestError naming the file and field. */
export function loadSubject(path: string, knownProperties: string[]): Subject {
  const file = resolve(path);
  const doc = readJson(file, '(file)');
  try {
    checkShape('manifest', doc);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    // The top-level anyOf (server, client or driver) reports one "required" per branch: say it once.
    if (err.errors.some((e) => e.keyword === 'anyOf' && e.instancePath === '')) {
      throw new ManifestError(file, 'server|client|driver', 'at least one of server, client or driver is required');
    }
    throw new ManifestError(file, err.field, err.message);
  }
  const m = doc as ManifestJson;
  let expectations = m.expectations ?? {};
  let expectationsFile = file;
  if (m.expectationsFile !== undefined) {
    if (m.expectations !== undefined) throw new ManifestError(file, 'expectationsFile', 'give expectations or expectationsFile, not both');
    expectationsFile = resolve(dirname(file), m.expectationsFile);
    expectations = existsSync(expectationsFile) ? readExpectationsFile(expectationsFile) : {};
  }
  for (const id of Object.keys(expectations)) {
    if (!knownProperties.includes(id)) throw new ManifestError(file, `expectations.${id}`, `no such property (known: ${knownProperties.join(', ')})`);
  }
  const implementation: Implementation = {
    name: m.name,
    kind: m.driver ? 'driver' : 'command',
    description: m.description ?? `subject from ${file}`,
    expectations,
  };
  if (m.server) implementation.server = { command: roleTemplate(file, 'server', m.server), payload: m.server.command.some((a) => a.includes('{payload}')) || (m.server.stdin ?? '').includes('{payload}') };
  if (m.client) implementation.client = { command: roleTemplate(file, 'client', m.client) };
  // What the driver can do is not declared here: the plan asks it (hello's capabilities).
  if (m.driver) implementation.driver = { command: roleTemplate(file, 'driver', m.driver) };
  return { file, implementation, expectationsFile, expectationsInManifest: m.expectationsFile === undefined };
}

/** An expectations file, checked against docs/expectations.schema.json: a problem names the file and field. */
function readExpectationsFile(file: string): Record<string, Expectation> {
  const doc = readJson(file, '(file)');
  try {
    return checkShape<Record<string, Expectation>>('expectations', doc);
  } catch (err) {
    if (err instanceof ShapeError) throw new ManifestError(file, err.field, err.message);
    throw err;
  }
}

/** Loads every manifest; names must be unique among themselves and the built-ins. */
export function loadSubjects(paths: string[], builtinNames: string[], knownProperties: string[]): Subject[] {
  const subjects = paths.map((p) => loadSubject(p, knownProperties));
  const seen = new Set(builtinNames);
  for (const s of subjects) {
    if (seen.has(s.implementation.name)) throw new ManifestError(s.file, 'name', `${JSON.stringify(s.implementation.name)} is already taken`);
    seen.add(s.implementation.name);
  }
  return subjects;
}

/** Writes a subject's expectations back, keeping the rest of the manifest as it was. */
export async function writeExpectations(subject: Subject, expectations: Record<string, Expectation>): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(expectations).sort(([a], [b]) => a.localeCompare(b)));
  if (subject.expectationsInManifest) {
    const doc = JSON.parse(readFileSync(subject.file, 'utf8')) as ManifestJson;
    doc.expectations = sorted;
    await writeFile(subject.file, `${JSON.stringify(doc, null, 2)}\n`);
  } else {
    await writeFile(subject.expectationsFile, `${JSON.stringify(sorted, null, 2)}\n`);
  }
}
