/**
 * defineSubject: a subject made in code, for a library's own test suite, by any of the three ways in:
 * a manifest object (the JSON manifest's shape), command templates, and in-process functions (the seed
 * protocol's server and client, and/or a driver adapter). Whatever is a command goes through the same
 * ajv check and resolution as a manifest file (subjectFromDocument), so a subject made here cannot be
 * one a manifest would refuse; the in-process parts are added to the Implementation that check makes.
 */
import { resolve } from 'node:path';
import type { DriverAdapter } from '../driver/protocol.js';
import { describeShapeError, validatorFor } from '../model/shape.js';
import type { CommandTemplate, Expectation, Implementation, InProcessClientOptions, InProcessRun, InProcessServerOptions, Role, ServerSpec } from '../model/types.js';
import { allProperties } from '../properties/index.js';
import { ManifestError, subjectFromDocument, type Subject } from './manifest.js';

/**
 * A server started as a process: its command template, and (when the command takes `{payload}`) how it
 * starts without one, exactly as a manifest's `server` says it (docs/validate-your-library.md).
 */
export interface ServerCommand extends CommandTemplate {
  /** The command that starts it with no payload (it then sends "Server Message\n"). */
  withoutPayload?: { command: string[]; stdin?: string };
  /** It cannot start without a payload: the properties that start it without one are unsupported. */
  payloadRequired?: true;
}

/** A seed-protocol server as an async function in the caller's process (as ts-net's runServer). */
export interface InProcessServer {
  inProcess: InProcessRun<InProcessServerOptions>;
  /** Whether it sends the payload it is given (default true); if false it always sends "Server Message\n". */
  payload?: boolean;
}

/** A seed-protocol client as an async function in the caller's process (as ts-net's runClient). */
export interface InProcessClient {
  inProcess: InProcessRun<InProcessClientOptions>;
}

/** A driver (docs/driver-protocol.md): a process speaking JSON lines, an in-process adapter, or both. */
export interface DriverSubjectSpec {
  command?: CommandTemplate;
  /** Makes a fresh adapter; called once per case (and once when the plan asks `hello`). */
  adapter?: () => DriverAdapter;
  /** The roles it may play (default both). */
  roles?: Role[];
}

/** What defineSubject takes: a name, and at least one role by any of the ways in. */
export interface SubjectSpec {
  /** Unique among the run's implementations: letters, digits and . _ + - (the manifest's rule). */
  name: string;
  description?: string;
  /** Known failures, by property id (the expectations file's shape). */
  expectations?: Record<string, Expectation>;
  /**
   * An object of the JSON manifest's shape (docs/subject-manifest.schema.json). Its roles may be
   * combined with the spec's own, one way each (a command server from here, an in-process client
   * below); its `name`, if given, must be the spec's. `expectationsFile` is for manifest files only.
   */
  manifest?: unknown;
  /** Where relative executables, cwd and stdin files resolve (default process.cwd()): a manifest file's directory. */
  baseDir?: string;
  server?: ServerCommand | InProcessServer;
  client?: CommandTemplate | InProcessClient;
  driver?: DriverSubjectSpec;
}

/** A subject given to defineSubject is wrong: names the field (`manifest.server.command[0]`), as a manifest's ManifestError does. */
export class SubjectError extends ManifestError {
  constructor(subject: string, field: string, message: string) {
    super(`defineSubject(${JSON.stringify(subject)})`, field, message);
    this.name = 'SubjectError';
  }
}

const ROLE_KEYS = ['server', 'client', 'driver'] as const;

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInProcess = (v: unknown): v is { inProcess: unknown } => isPlainObject(v) && 'inProcess' in v;

/** A command template as the manifest writes a role (the same fields: command, env, cwd, stdin, and a server's two). */
function roleJson(template: CommandTemplate | ServerCommand): Record<string, unknown> {
  return Object.fromEntries(Object.entries(template).filter(([, v]) => v !== undefined));
}

/**
 * Makes a subject from a spec; throws SubjectError naming the field when anything is wrong, before
 * anything runs. Pass the result to runSuite({ subjects: [subject] }) (or the vitest helper's
 * conformance()): it is paired with every implementation, and blamed when a cell with it fails.
 */
export function defineSubject(spec: SubjectSpec): Subject {
  if (!isPlainObject(spec)) throw new SubjectError('?', '(spec)', 'not an object');
  const name = typeof spec.name === 'string' ? spec.name : '?';
  const error = (field: string, message: string): SubjectError => new SubjectError(name, field, message);
  // Which part of the spec each manifest field came from, so an error names it where the caller wrote it.
  const origin = new Map<string, 'manifest' | 'spec'>();
  const doc: Record<string, unknown> = {};
  if (spec.manifest !== undefined) {
    if (!isPlainObject(spec.manifest)) throw error('manifest', 'not an object (a manifest object has the shape of docs/subject-manifest.schema.json)');
    if ('expectationsFile' in spec.manifest) throw error('manifest.expectationsFile', 'a manifest object takes its expectations inline ("expectations"); expectationsFile is for manifest files');
    for (const [k, v] of Object.entries(spec.manifest)) {
      doc[k] = v;
      origin.set(k, 'manifest');
    }
    if (doc.name !== undefined && doc.name !== spec.name) throw error('manifest.name', `${JSON.stringify(doc.name)} is not the spec's name ${JSON.stringify(spec.name)}`);
  }
  const put = (key: string, value: unknown): void => {
    if (value === undefined) return;
    if (origin.get(key) === 'manifest') throw error(key, `given both in the manifest object and in the spec: give it once`);
    doc[key] = value;
    origin.set(key, 'spec');
  };
  // The manifest's own name, when it has one, is the spec's (checked above).
  if (doc.name === undefined) put('name', spec.name);
  put('description', spec.description);
  put('expectations', spec.expectations);
  const inProcess: Partial<Record<'server' | 'client', { inProcess: unknown; payload?: unknown }>> = {};
  for (const key of ['server', 'client'] as const) {
    const role = spec[key];
    if (role === undefined) continue;
    if (!isPlainObject(role)) throw error(key, 'not an object (a command template or { inProcess })');
    if (isInProcess(role)) inProcess[key] = role;
    else put(key, roleJson(role as CommandTemplate));
  }
  if (spec.driver !== undefined) {
    if (!isPlainObject(spec.driver)) throw error('driver', 'not an object ({ command?, adapter?, roles? })');
    // Not an object: left to the schema's own words ("driver: must be object").
    const command: unknown = spec.driver.command;
    if (command !== undefined) put('driver', isPlainObject(command) ? roleJson(command as unknown as CommandTemplate) : command);
  }
  const field = (key: string): string => {
    const top = key.split(/[.[]/)[0]!;
    return origin.get(top) === 'manifest' ? `manifest.${key}` : key;
  };

  const known = allProperties().map((p) => p.id);
  let subject: Subject;
  if (ROLE_KEYS.some((k) => doc[k] !== undefined)) {
    // A label in baseDir: manifest.ts resolves relative paths against the "file's" directory.
    const label = resolve(spec.baseDir ?? process.cwd(), `(defineSubject ${name})`);
    try {
      subject = subjectFromDocument(label, doc, known);
    } catch (err) {
      if (err instanceof ManifestError) throw error(field(err.field), err.message.slice(err.file.length + err.field.length + 4));
      throw err;
    }
  } else {
    subject = { file: '', implementation: checkedInline(doc, known, error, field), expectationsFile: '', expectationsInManifest: false };
  }
  const implementation = subject.implementation;
  addInProcess(implementation, spec, inProcess, error);
  if (!implementation.server && !implementation.client && !implementation.driver) throw error('server|client|driver', 'at least one of server, client or driver is required');
  if (doc.description === undefined) implementation.description = `subject ${name}, defined in code`;
  return { file: `defineSubject(${JSON.stringify(name)})`, implementation, expectationsFile: '', expectationsInManifest: false, inline: true };
}

/**
 * The name, description and expectations of a subject with no command at all, checked by the manifest
 * schema (its "one of server, client or driver" is the in-process parts' to meet) and the known ids.
 */
function checkedInline(doc: Record<string, unknown>, known: string[], error: (field: string, message: string) => SubjectError, field: (key: string) => string): Implementation {
  const validate = validatorFor('manifest');
  if (!validate(doc)) {
    const roleRule = (e: { instancePath: string; schemaPath: string; keyword: string }): boolean => e.instancePath === '' && (e.keyword === 'anyOf' || /^#\/anyOf\//.test(e.schemaPath));
    const problem = (validate.errors ?? []).find((e) => !roleRule(e) && !/\/(anyOf|oneOf)\/\d+/.test(e.schemaPath));
    if (problem) {
      const { field: f, message } = describeShapeError(problem);
      throw error(field(f), message);
    }
  }
  const expectations = (doc.expectations ?? {}) as Record<string, Expectation>;
  for (const id of Object.keys(expectations)) {
    if (!known.includes(id)) throw error(field(`expectations.${id}`), `no such property (known: ${known.join(', ')})`);
  }
  return { name: doc.name as string, kind: 'command', description: (doc.description as string | undefined) ?? '', expectations };
}

/** The in-process seed roles and driver adapter, each beside the role's command if it has one. */
function addInProcess(
  implementation: Implementation,
  spec: SubjectSpec,
  inProcess: Partial<Record<'server' | 'client', { inProcess: unknown; payload?: unknown }>>,
  error: (field: string, message: string) => SubjectError,
): void {
  const server = inProcess.server;
  if (server) {
    if (typeof server.inProcess !== 'function') throw error('server.inProcess', 'not a function (options) => Promise<exit code>');
    if (server.payload !== undefined && typeof server.payload !== 'boolean') throw error('server.payload', 'not a boolean');
    const payload = (server.payload as boolean | undefined) ?? implementation.server?.payload ?? true;
    if (implementation.server && implementation.server.payload !== payload) {
      throw error('server.payload', `the in-process server ${payload ? 'takes' : 'does not take'} a payload but the command server ${payload ? 'does not' : 'does'}: one server, one behaviour`);
    }
    const spec: ServerSpec = { ...(implementation.server ?? {}), payload, inProcess: server.inProcess as InProcessRun<InProcessServerOptions> };
    implementation.server = spec;
  }
  const client = inProcess.client;
  if (client) {
    if (typeof client.inProcess !== 'function') throw error('client.inProcess', 'not a function (options) => Promise<exit code>');
    implementation.client = { ...(implementation.client ?? {}), inProcess: client.inProcess as InProcessRun<InProcessClientOptions> };
  }
  const driver = spec.driver;
  if (driver) {
    if (driver.adapter !== undefined && typeof driver.adapter !== 'function') throw error('driver.adapter', 'not a function () => DriverAdapter (one fresh adapter per case)');
    if (driver.roles !== undefined) {
      if (!Array.isArray(driver.roles) || driver.roles.length === 0) throw error('driver.roles', 'not a non-empty array of "server" and "client"');
      const bad = driver.roles.findIndex((r) => r !== 'server' && r !== 'client');
      if (bad >= 0) throw error(`driver.roles[${bad}]`, `${JSON.stringify(driver.roles[bad])} is not "server" or "client"`);
    }
    if (driver.adapter === undefined && driver.command === undefined) throw error('driver', 'give a command, an adapter, or both');
    implementation.driver = {
      ...(implementation.driver ?? {}),
      ...(driver.adapter ? { inProcess: driver.adapter } : {}),
      ...(driver.roles ? { roles: [...driver.roles] } : {}),
    };
    implementation.kind = 'driver';
  }
}
