/**
 * Subject manifests: third-party implementations described in JSON (docs/subject-manifest.schema.json),
 * validated strictly before anything runs. Every problem names the file and the field. Input is
 * bounded before it is parsed (a manifest or expectations file over MAX_INPUT_BYTES is refused unread),
 * and an expectations file must lie inside the manifest's directory tree, so a manifest cannot make the
 * suite read, quote or overwrite a file elsewhere.
 */
import { accessSync, closeSync, constants, existsSync, fstatSync, openSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { CommandTemplate, Expectation, Implementation, ServerSpec } from '../model/types.js';
import { checkShape, schemaFile, ShapeError } from '../model/shape.js';

export const SCHEMA_FILE = schemaFile('manifest');
/** Manifests and expectations files are small; anything bigger is refused before it is read. */
export const MAX_INPUT_BYTES = 1 << 20;

type Placeholder = 'path' | 'payload' | 'dir';
const PLACEHOLDERS: Record<'server' | 'client' | 'driver' | 'withoutPayload', Placeholder[]> = {
  server: ['path', 'payload', 'dir'],
  client: ['path', 'dir'],
  // A driver starts before any socket exists: it is given paths in its commands, not on its argv.
  driver: ['dir'],
  withoutPayload: ['path', 'dir'],
};

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
interface ServerJson extends RoleJson {
  withoutPayload?: { command: string[]; stdin?: string };
  payloadRequired?: true;
}
interface ManifestJson {
  name: string;
  description?: string;
  server?: ServerJson;
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
  /**
   * Made by defineSubject in the caller's process, not loaded from a file: `file` is only a label, so
   * replay lines carry no `--subject` for it and --update-expectations has nothing to write.
   */
  inline?: true;
}

/** "at position N" from JSON.parse turned into line and column. */
function jsonError(file: string, text: string, err: Error): ManifestError {
  const m = /position (\d+)/.exec(err.message);
  // V8's message may quote the text around the error: bounded, so a huge line is not echoed whole.
  if (!m) return new ManifestError(file, '(json)', `invalid JSON: ${err.message.slice(0, 200)}`);
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const column = pos - before.lastIndexOf('\n');
  return new ManifestError(file, '(json)', `invalid JSON at line ${line}, column ${column}: ${err.message.replace(/ in JSON at position \d+.*$/s, '')}`);
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

function checkPlaceholders(file: string, field: string, value: string, allowed: Placeholder[]): void {
  for (const m of value.matchAll(/\{([^{}]*)\}/g)) {
    if (!(allowed as string[]).includes(m[1]!)) {
      throw new ManifestError(file, field, `unknown placeholder {${m[1]}} (known here: ${allowed.map((p) => `{${p}}`).join(', ')})`);
    }
  }
}

const usesPayload = (json: { command: string[]; stdin?: string }): boolean => json.command.some((a) => a.includes('{payload}')) || (json.stdin ?? '').includes('{payload}');

/** argv made runnable: the executable found, arguments naming files next to the manifest made absolute. */
function resolveCommand(file: string, field: string, command: string[], allowed: Placeholder[]): string[] {
  const base = dirname(file);
  command.forEach((arg, i) => checkPlaceholders(file, `${field}[${i}]`, arg, allowed));
  const [exe, ...args] = command as [string, ...string[]];
  if (/\{/.test(exe)) throw new ManifestError(file, `${field}[0]`, 'the executable cannot be a placeholder');
  const found = findExecutable(exe, base);
  if (!found) {
    throw new ManifestError(file, `${field}[0]`, `executable ${JSON.stringify(exe)} not found ${exe.includes('/') ? `(relative to ${base})` : 'on PATH'}`);
  }
  // Arguments naming files next to the manifest (driver.py) become absolute: subjects run in the case dir.
  return [found, ...args.map((a) => (!a.startsWith('-') && !a.includes('{') && !isAbsolute(a) && existsSync(resolve(base, a)) ? resolve(base, a) : a))];
}

/** A stdin file: a placeholder is filled per case; a plain file is relative to the manifest and must exist now. */
function resolveStdin(file: string, field: string, stdin: string, allowed: Placeholder[]): string {
  checkPlaceholders(file, field, stdin, allowed);
  if (stdin.includes('{')) return stdin;
  const path = resolve(dirname(file), stdin);
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new ManifestError(file, field, `file ${path} does not exist`);
  }
  if (!isFile) throw new ManifestError(file, field, `${path} is not a regular file`);
  return path;
}

/** A role's command made runnable; every problem names the field. */
function roleTemplate(file: string, role: 'server' | 'client' | 'driver', json: RoleJson): CommandTemplate {
  const allowed = PLACEHOLDERS[role];
  for (const [k, v] of Object.entries(json.env ?? {})) checkPlaceholders(file, `${role}.env.${k}`, v, allowed);
  const template: CommandTemplate = { command: resolveCommand(file, `${role}.command`, json.command, allowed) };
  if (json.env) template.env = json.env;
  if (json.cwd !== undefined) {
    const cwd = resolve(dirname(file), json.cwd);
    let isDirectory = false;
    try {
      isDirectory = statSync(cwd).isDirectory();
    } catch {
      throw new ManifestError(file, `${role}.cwd`, `directory ${cwd} does not exist`);
    }
    if (!isDirectory) throw new ManifestError(file, `${role}.cwd`, `${cwd} is not a directory`);
    template.cwd = cwd;
  }
  if (json.stdin !== undefined) template.stdin = resolveStdin(file, `${role}.stdin`, json.stdin, allowed);
  return template;
}

/**
 * A server and how it starts without a payload. The rule is explicit (docs/validate-your-library.md):
 * a command that uses {payload} says how it starts without one, or that it cannot; one that does not
 * use it always sends the fixed message, and has nothing to declare.
 */
function serverSpec(file: string, json: ServerJson): ServerSpec {
  const command = roleTemplate(file, 'server', json);
  const payload = usesPayload(json);
  if (!payload) {
    const extra = json.withoutPayload !== undefined ? 'withoutPayload' : json.payloadRequired ? 'payloadRequired' : undefined;
    if (extra) throw new ManifestError(file, `server.${extra}`, 'the command takes no {payload}: it always starts without one and sends "Server Message\\n", so there is nothing to declare');
    return { command, payload: false };
  }
  if (json.payloadRequired) return { command, payload: true, payloadRequired: true };
  if (!json.withoutPayload) {
    throw new ManifestError(
      file,
      'server.withoutPayload',
      'the command takes {payload}: say how the server starts without one ("withoutPayload": {"command": [...]}; it must then send "Server Message\\n") or that it cannot ("payloadRequired": true)',
    );
  }
  const without = json.withoutPayload;
  const commandWithoutPayload: CommandTemplate = { ...command, command: resolveCommand(file, 'server.withoutPayload.command', without.command, PLACEHOLDERS.withoutPayload) };
  delete commandWithoutPayload.stdin;
  if (without.stdin !== undefined) commandWithoutPayload.stdin = resolveStdin(file, 'server.withoutPayload.stdin', without.stdin, PLACEHOLDERS.withoutPayload);
  // A stdin of "{payload}" belongs to the payload command: without a payload there is nothing to feed.
  if (json.stdin !== undefined && !json.stdin.includes('{payload}')) commandWithoutPayload.stdin ??= command.stdin;
  return { command, payload: true, commandWithoutPayload };
}

/**
 * A file's text, at most MAX_INPUT_BYTES: the size is checked on the open file before anything is read,
 * and a FIFO or device (which could block or never end) is refused.
 */
function readBounded(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new ManifestError(file, '(file)', `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new ManifestError(file, '(file)', 'is not a regular file');
    if (stat.size > MAX_INPUT_BYTES) throw new ManifestError(file, '(file)', `is ${stat.size} bytes; the limit is ${MAX_INPUT_BYTES} (1 MiB)`);
    // One byte more than the limit: a file that grew after the fstat is still caught.
    const buffer = Buffer.alloc(MAX_INPUT_BYTES + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > MAX_INPUT_BYTES) throw new ManifestError(file, '(file)', `is over ${MAX_INPUT_BYTES} bytes (1 MiB)`);
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}

function readJson(file: string): unknown {
  const text = readBounded(file);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw jsonError(file, text, err as Error);
  }
}

/**
 * The expectations file's real path, which must lie inside the manifest's directory tree (both with
 * symlinks resolved). It may not exist yet (--update-expectations creates it), but its directory must.
 */
function containedExpectationsFile(manifest: string, given: string): string {
  const refuse = (why: string): never => {
    throw new ManifestError(manifest, 'expectationsFile', `${JSON.stringify(given)} ${why}`);
  };
  const root = realpathSync(dirname(manifest));
  const target = resolve(dirname(manifest), given);
  let real: string;
  try {
    real = realpathSync(target);
  } catch {
    try {
      real = join(realpathSync(dirname(target)), basename(target));
    } catch {
      return refuse(`is in a directory that does not exist (${dirname(target)})`);
    }
  }
  const rel = relative(root, real);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    return refuse(`lies outside the manifest's directory ${root} (symlinks resolved): an expectations file must be inside it`);
  }
  if (real === realpathSync(manifest)) refuse('is the manifest itself: put the expectations in its "expectations" field instead');
  return real;
}

/** Loads and validates one manifest; throws ManifestError naming the file and field. */
export function loadSubject(path: string, knownProperties: string[]): Subject {
  const file = resolve(path);
  return subjectFromDocument(file, readJson(file), knownProperties);
}

/**
 * A parsed manifest checked and made runnable as loadSubject does it (ajv, then every command
 * resolved): `file` names it in every error, and relative paths resolve against its directory.
 * defineSubject (subjects/define.ts) passes a manifest object here, so both ways in share one check.
 */
export function subjectFromDocument(file: string, doc: unknown, knownProperties: string[]): Subject {
  try {
    checkShape('manifest', doc);
  } catch (err) {
    if (!(err instanceof ShapeError)) throw err;
    // The top-level anyOf (server, client or driver) reports one "required" per branch: say it once.
    if (err.errors.some((e) => e.keyword === 'anyOf' && e.instancePath === '')) {
      throw new ManifestError(file, 'server|client|driver', 'at least one of server, client or driver is required');
    }
    if (err.errors.some((e) => e.keyword === 'not' && e.instancePath === '/server')) {
      throw new ManifestError(file, 'server.payloadRequired', 'give withoutPayload or payloadRequired, not both');
    }
    throw new ManifestError(file, err.field, err.message);
  }
  const m = doc as ManifestJson;
  let expectations = m.expectations ?? {};
  let expectationsFile = file;
  if (m.expectationsFile !== undefined) {
    if (m.expectations !== undefined) throw new ManifestError(file, 'expectationsFile', 'give expectations or expectationsFile, not both');
    expectationsFile = containedExpectationsFile(file, m.expectationsFile);
    expectations = existsSync(expectationsFile) ? readExpectationsFile(expectationsFile) : {};
  }
  for (const id of Object.keys(expectations)) {
    if (!knownProperties.includes(id)) {
      // Named where it is written: the expectations file's own fields are top-level ids.
      const [where, field] = m.expectationsFile !== undefined ? [expectationsFile, id] : [file, `expectations.${id}`];
      throw new ManifestError(where, field, `no such property (known: ${knownProperties.join(', ')})`);
    }
  }
  const implementation: Implementation = {
    name: m.name,
    kind: m.driver ? 'driver' : 'command',
    description: m.description ?? `subject from ${file}`,
    expectations,
  };
  if (m.server) implementation.server = serverSpec(file, m.server);
  if (m.client) implementation.client = { command: roleTemplate(file, 'client', m.client) };
  // What the driver can do is not declared here: the plan asks it (hello's capabilities).
  if (m.driver) implementation.driver = { command: roleTemplate(file, 'driver', m.driver) };
  return { file, implementation, expectationsFile, expectationsInManifest: m.expectationsFile === undefined };
}

/** An expectations file, checked against docs/expectations.schema.json: a problem names the file and field. */
function readExpectationsFile(file: string): Record<string, Expectation> {
  const doc = readJson(file);
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

/**
 * Writes a subject's expectations back, keeping the rest of the manifest as it was. An expectations
 * file is checked again (a symlink may have changed since the load) and replaced by a rename in its
 * own directory, which replaces a symlink instead of writing through it: the write lands inside the
 * manifest's tree or not at all.
 */
export async function writeExpectations(subject: Subject, expectations: Record<string, Expectation>): Promise<void> {
  const sorted = Object.fromEntries(Object.entries(expectations).sort(([a], [b]) => a.localeCompare(b)));
  if (subject.expectationsInManifest) {
    const doc = JSON.parse(readBounded(subject.file)) as ManifestJson;
    doc.expectations = sorted;
    writeFileSync(subject.file, `${JSON.stringify(doc, null, 2)}\n`);
    return;
  }
  const target = containedExpectationsFile(subject.file, subject.expectationsFile);
  const temporary = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  try {
    writeFileSync(temporary, `${JSON.stringify(sorted, null, 2)}\n`, { flag: 'wx' });
    renameSync(temporary, target);
  } catch (err) {
    if (existsSync(temporary)) unlinkSync(temporary);
    throw err;
  }
}
