/**
 * One command object in, one answer object out, for a DriverAdapter: what an adapter does whether it
 * runs in the harness (in-process.ts) or behind stdio as a process driver (serve.ts). The answer is
 * the one a process driver would write (bytes as base64, errors as {code, errno, syscall, message}),
 * so the two transports answer alike and the client judges both the same way.
 */
import os from 'node:os';
import { DRIVER_COMMANDS, DRIVER_PROTOCOL, OPTIONAL_COMMANDS, RLIMIT_RESOURCES, SOCKET_OPTIONS, SOCKET_TYPES, type DriverAdapter, type DriverCommand, type DriverErrorInfo } from './protocol.js';

/** What one command came to. */
export type Dispatched =
  /** The answer line's object; `quit` is set when the command was quit (the driver ends with it). */
  | { answer: Record<string, unknown>; quit?: number }
  /** The adapter threw something that is not an errno-style error: it broke, it did not refuse. */
  | { crash: unknown; cmd: string; id: number | undefined };

/** `ucred`: an object {pid, uid, gid} of integers (struct ucred, for SCM_CREDENTIALS). */
type FieldType = 'string' | 'integer' | 'boolean' | 'strings' | 'bytes' | 'ucred';
interface FieldRule {
  type: FieldType;
  required?: boolean;
  /** The values a string may take. */
  oneOf?: readonly string[];
  /** The least an integer may be (default 0). */
  min?: number;
  max?: number;
}

const req = (type: FieldType, more: Partial<FieldRule> = {}): FieldRule => ({ type, required: true, ...more });
const opt = (type: FieldType, more: Partial<FieldRule> = {}): FieldRule => ({ type, ...more });

/** An address: exactly one of these (checkAddress); neither, for bind, is autobind. */
const ADDRESS = { path: opt('string'), abstract: opt('bytes') };
const TYPE = opt('string', { oneOf: SOCKET_TYPES });
const RECV = { conn: req('string'), dataSize: req('integer', { min: 1 }), controlFds: opt('integer'), cloexec: opt('boolean'), plain: opt('boolean'), flags: opt('strings'), credentials: opt('boolean') };

/** Every command's fields (docs/driver-protocol.md, Commands); fields not named here are ignored. */
const FIELDS: Record<DriverCommand, Record<string, FieldRule>> = {
  hello: {},
  listen: { ...ADDRESS, backlog: opt('integer'), type: TYPE },
  bind: { ...ADDRESS, type: TYPE },
  accept: { sock: req('string') },
  connect: { ...ADDRESS, type: TYPE, sock: opt('string'), nonblock: opt('boolean') },
  send: { conn: req('string'), data: opt('bytes'), fds: opt('strings'), flags: opt('strings'), once: opt('boolean'), credentials: opt('ucred') },
  sendto: { sock: req('string'), ...ADDRESS, data: opt('bytes'), fds: opt('strings'), flags: opt('strings'), credentials: opt('ucred') },
  recv: RECV,
  recvfrom: RECV,
  getsockname: { name: req('string') },
  getpeername: { name: req('string') },
  setsockopt: { name: req('string'), option: req('string', { oneOf: SOCKET_OPTIONS }), value: req('integer') },
  getsockopt: { name: req('string'), option: req('string', { oneOf: SOCKET_OPTIONS }) },
  peercred: { name: req('string') },
  // The hard limit is kept: a soft limit above it is the kernel's EINVAL, not the protocol's.
  setrlimit: { resource: req('string', { oneOf: RLIMIT_RESOURCES }), soft: req('integer') },
  shutdown: { conn: req('string'), how: req('string', { oneOf: ['read', 'write', 'both'] }) },
  close: { name: req('string') },
  mkfd: { kind: req('string'), index: opt('integer'), dir: opt('string'), skip: opt('integer'), cloexec: opt('boolean') },
  stat: { fd: req('string') },
  read: { fd: req('string'), n: req('integer') },
  fds: {},
  open: { path: req('string') },
  whoami: {},
  reset: { dir: opt('string') },
  quit: { status: opt('integer', { max: 255 }) },
};

/** The commands that take an address, and whether it may be left out (bind: autobind). */
const ADDRESSED: Partial<Record<DriverCommand, 'required' | 'optional'>> = { listen: 'required', connect: 'required', sendto: 'required', bind: 'optional' };

/** An address is exactly one of path and abstract (at most one for bind); what is wrong otherwise. */
function checkAddress(cmd: DriverCommand, fields: Record<string, unknown>): string | undefined {
  const rule = ADDRESSED[cmd];
  if (!rule) return undefined;
  if (fields.path !== undefined && fields.abstract !== undefined) return `${cmd}: fields "path" and "abstract" are both given: an address is one of them`;
  if (rule === 'required' && fields.path === undefined && fields.abstract === undefined) return `${cmd}: field "path" is missing (an address is "path" or "abstract")`;
  return undefined;
}

/**
 * Canonical base64: whole quanta, padding only at the end. Tested as a length and a flat character
 * class rather than a repeated group of four, whose backtracking overflows V8's stack at a few MiB.
 */
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (value: string): boolean => value.length % 4 === 0 && BASE64_CHARS.test(value);

/** A refusal by the driver itself (syscall "driver"), as an answer. */
export function refusal(id: number | undefined, code: 'EINVAL' | 'ENOTSUP', message: string): Record<string, unknown> {
  const errno = code === 'EINVAL' ? 22 : 95;
  return { ...(id !== undefined ? { id } : {}), ok: false, error: { code, errno, syscall: 'driver', message } };
}

/** Runs one command (a parsed JSON line, or the client's command object) on the adapter. */
export async function dispatchCommand(adapter: DriverAdapter, command: unknown): Promise<Dispatched> {
  if (typeof command !== 'object' || command === null || Array.isArray(command)) {
    return { answer: refusal(undefined, 'EINVAL', 'not a command: a command is a JSON object') };
  }
  const c = command as Record<string, unknown>;
  const id = typeof c.id === 'number' && Number.isSafeInteger(c.id) && c.id >= 0 ? c.id : undefined;
  if (id === undefined) return { answer: refusal(undefined, 'EINVAL', 'field "id": not a non-negative integer') };
  if (typeof c.cmd !== 'string') return { answer: refusal(id, 'EINVAL', 'field "cmd": not a string') };
  const cmd = c.cmd;
  if (![...DRIVER_COMMANDS, ...OPTIONAL_COMMANDS].includes(cmd as DriverCommand)) return { answer: refusal(id, 'ENOTSUP', `command ${JSON.stringify(cmd.slice(0, 40))}`) };
  const name = cmd as DriverCommand;
  const fields = parseFields(name, c);
  if (typeof fields === 'string') return { answer: refusal(id, 'EINVAL', fields) };
  // quit needs no method: an adapter that holds nothing has nothing to close.
  const method = (adapter as unknown as Record<string, ((fields: Record<string, unknown>) => Promise<unknown>) | undefined>)[name];
  if (name !== 'quit' && typeof method !== 'function') return { answer: refusal(id, 'ENOTSUP', `the adapter has no ${name}`) };
  const quit = name === 'quit' ? ((fields.status as number | undefined) ?? 0) : undefined;
  let result: unknown;
  try {
    if (name === 'quit') await adapter.quit?.({ status: quit! });
    else result = await method!.call(adapter, fields);
  } catch (err) {
    const info = errnoInfo(err);
    if (!info) return { crash: err, cmd: name, id };
    return { answer: { id, ok: false, error: info }, quit };
  }
  const answer: Record<string, unknown> = { id, ok: true };
  if (name === 'hello') answer.protocol = DRIVER_PROTOCOL;
  if (typeof result === 'object' && result !== null) {
    for (const [key, value] of Object.entries(result)) answer[key] = onTheWire(value);
  }
  // The adapter answers the fields; the protocol's own two are not its to change.
  answer.id = id;
  answer.ok = true;
  return { answer, quit };
}

/** An answer's value as JSON carries it: every Uint8Array, however deep (control[].bytes, from.bytes), as base64. */
function onTheWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(onTheWire);
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, onTheWire(v)]));
  }
  return value;
}

/** The command's fields, typed as the adapter's method takes them, or what is wrong with them. */
function parseFields(cmd: DriverCommand, c: Record<string, unknown>): Record<string, unknown> | string {
  const fields: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(FIELDS[cmd])) {
    const value = c[key];
    // A missing optional field, or one set to null, takes its default (the adapter's).
    if (value === undefined || value === null) {
      if (rule.required) return `${cmd}: field "${key}" is missing`;
      continue;
    }
    const wrong = `${cmd}: field "${key}": not ${article(rule.type)}`;
    switch (rule.type) {
      case 'string':
        if (typeof value !== 'string') return wrong;
        if (rule.oneOf && !rule.oneOf.includes(value)) return `${cmd}: field "${key}": ${JSON.stringify(value)} is not one of ${rule.oneOf.join(', ')}`;
        fields[key] = value;
        break;
      case 'integer':
        if (typeof value !== 'number' || !Number.isSafeInteger(value)) return wrong;
        if (value < (rule.min ?? 0) || (rule.max !== undefined && value > rule.max)) return `${cmd}: field "${key}": ${value} is out of range`;
        fields[key] = value;
        break;
      case 'boolean':
        if (typeof value !== 'boolean') return wrong;
        fields[key] = value;
        break;
      case 'strings':
        if (!Array.isArray(value) || value.some((s) => typeof s !== 'string')) return wrong;
        fields[key] = [...(value as string[])];
        break;
      case 'bytes':
        if (typeof value !== 'string' || !isBase64(value)) return wrong;
        fields[key] = new Uint8Array(Buffer.from(value, 'base64'));
        break;
      case 'ucred': {
        if (typeof value !== 'object' || Array.isArray(value)) return wrong;
        const u = value as Record<string, unknown>;
        const bad = ['pid', 'uid', 'gid'].find((k) => typeof u[k] !== 'number' || !Number.isSafeInteger(u[k]));
        if (bad) return `${cmd}: field "${key}.${bad}": not an integer`;
        fields[key] = { pid: u.pid, uid: u.uid, gid: u.gid };
        break;
      }
    }
  }
  const address = checkAddress(cmd, fields);
  if (address) return address;
  if ((cmd === 'send' || cmd === 'sendto') && fields.data === undefined) fields.data = new Uint8Array(0);
  return fields;
}

function article(type: FieldType): string {
  return { string: 'a string', integer: 'a non-negative integer', boolean: 'a boolean', strings: 'an array of strings', bytes: 'base64', ucred: 'an object {pid, uid, gid} of integers' }[type];
}

/**
 * An adapter's thrown error as the protocol's error, when it is an errno-style one ({code: 'ENOENT',
 * errno: -2, syscall: 'connect'}, as Node's system errors are; errno may be negative, as libuv gives
 * it). A code that is not an errno name (Node's ERR_*) or no code at all is a crash, not a refusal.
 */
function errnoInfo(err: unknown): DriverErrorInfo | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; errno?: unknown; syscall?: unknown; message?: unknown };
  if (typeof e.code !== 'string' || !/^E[A-Z0-9]+$/.test(e.code)) return undefined;
  const syscall = typeof e.syscall === 'string' ? e.syscall : 'driver';
  // glibc's spelling where one number has two names (docs/driver-protocol.md, Errors); libuv says
  // ENOTSUP for 95, which the protocol keeps for the driver's own "cannot do that".
  let code = e.code === 'EWOULDBLOCK' ? 'EAGAIN' : e.code;
  if (code === 'ENOTSUP' && syscall !== 'driver') code = 'EOPNOTSUPP';
  const known = (os.constants.errno as Record<string, number | undefined>)[code];
  const errno = typeof e.errno === 'number' && Number.isInteger(e.errno) ? Math.abs(e.errno) : (known ?? null);
  return { code, errno, syscall, message: typeof e.message === 'string' && e.message !== '' ? e.message : code };
}
