/**
 * The fd-passing mode's reports (docs/fd-passing.md), parsed and validated. A subject whose report
 * does not have this shape is reported as lying, with the offending field named.
 */
import { CheckFailure } from '../../model/types.js';

/** The options of the fd-passing mode's client, as docs/fd-passing.md defines them. */
export interface FdClientOptions {
  /** --recv-buf: the data buffer of each recvmsg (default 65536, at least 1). */
  recvBuf?: number;
  /** --ctl-fds: the control buffer is exactly CMSG_LEN(K * sizeof(int)) (default 253). */
  ctlFds?: number;
  /** --cloexec: receive with MSG_CMSG_CLOEXEC. */
  cloexec?: boolean;
  /** --plain-read: read the stream with read(2); the kernel discards passed fds. */
  plainRead?: boolean;
  /** --read-fd-bytes: bytes read through each received fd after EOF (default 9). */
  readFdBytes?: number;
  /** --try-open: also try open(PATH, O_RDONLY) and report the errno name. */
  tryOpen?: string;
}

export type FdKind = 'file' | 'pipe' | 'socket' | 'memfd' | 'dir';
export const FD_KINDS: readonly FdKind[] = ['file', 'pipe', 'socket', 'memfd', 'dir'];

export interface SentFd {
  index: number;
  kind: FdKind;
  dev: number;
  ino: number;
  offsetAfter: number | null;
}
export interface ServerFdReport {
  sent: SentFd[];
  error: string | null;
}

export interface ReadRecord {
  length: number;
  fds: number;
  flags: string[];
}
export interface ReceivedFd {
  read: number;
  kind: string;
  dev: number;
  ino: number;
  cloexec: boolean;
  accmode: string;
  offset: number | null;
  data: Buffer;
  error: string | null;
}
export interface ClientFdReport {
  bytes: Buffer;
  reads: ReadRecord[];
  fds: ReceivedFd[];
  openFds: Array<{ fd: number; dev: number | null; ino: number | null }>;
  tryOpen?: { path: string; error: string | null };
  uid: number;
  gid: number;
}

/** The content the server puts behind fd number i (docs/fd-passing.md). */
export function fdContent(index: number, kind: FdKind): Buffer {
  return Buffer.from(`fd-${index}-${kind}\n`.repeat(4));
}

/** How the receiver's fstat names a kind the sender created (a memfd is a regular file). */
export function receivedKind(kind: FdKind): string {
  return kind === 'memfd' ? 'file' : kind;
}

/** `file,file,pipe` → `file*2,pipe`: the --pass SPEC for a list of kinds. */
export function passSpec(kinds: readonly string[]): string {
  const items: string[] = [];
  for (let i = 0; i < kinds.length; ) {
    let j = i;
    while (j < kinds.length && kinds[j] === kinds[i]) j++;
    items.push(j - i > 1 ? `${kinds[i]}*${j - i}` : kinds[i]!);
    i = j;
  }
  return items.join(',');
}

class ShapeError extends Error {}

function field<T>(obj: unknown, name: string, check: (v: unknown) => v is T, where: string): T {
  const v = (obj as Record<string, unknown> | null)?.[name];
  if (!check(v)) throw new ShapeError(`${where}.${name} is ${JSON.stringify(v)?.slice(0, 80) ?? 'missing'}`);
  return v;
}
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string';
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isArr = (v: unknown): v is unknown[] => Array.isArray(v);
const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);
const isStrOrNull = (v: unknown): v is string | null => v === null || isStr(v);

function lying(role: 'client' | 'server', problem: string, text: string): CheckFailure {
  return new CheckFailure({
    message: `the ${role}'s fd report is not in the documented form (docs/fd-passing.md): ${problem}`,
    expected: role === 'client' ? 'one uds-fd-report/1 JSON document on stdout' : 'one JSON line {"sent":[...]} on stdout',
    actual: JSON.stringify(text.slice(0, 300)),
  });
}

export function parseClientReport(text: string): ClientFdReport {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw lying('client', `invalid JSON (${(err as Error).message})`, text);
  }
  try {
    if (field(doc, 'format', isStr, 'report') !== 'uds-fd-report/1') throw new ShapeError('report.format is not "uds-fd-report/1"');
    const reads = field(doc, 'reads', isArr, 'report').map((r, i) => ({
      length: field(r, 'length', isNum, `reads[${i}]`),
      fds: field(r, 'fds', isNum, `reads[${i}]`),
      flags: field(r, 'flags', isArr, `reads[${i}]`).map(String),
    }));
    const fds = field(doc, 'fds', isArr, 'report').map((f, i) => ({
      read: field(f, 'read', isNum, `fds[${i}]`),
      kind: field(f, 'kind', isStr, `fds[${i}]`),
      // null when the receiver could not fstat the fd (it then matches no sent object)
      dev: field(f, 'dev', isNumOrNull, `fds[${i}]`) ?? -1,
      ino: field(f, 'ino', isNumOrNull, `fds[${i}]`) ?? -1,
      cloexec: field(f, 'cloexec', isBool, `fds[${i}]`),
      accmode: field(f, 'accmode', isStr, `fds[${i}]`),
      offset: field(f, 'offset', isNumOrNull, `fds[${i}]`),
      data: Buffer.from(field(f, 'data', isStr, `fds[${i}]`), 'base64'),
      error: field(f, 'error', isStrOrNull, `fds[${i}]`),
    }));
    const openFds = field(doc, 'openFds', isArr, 'report').map((o, i) => ({
      fd: field(o, 'fd', isNum, `openFds[${i}]`),
      dev: field(o, 'dev', isNumOrNull, `openFds[${i}]`),
      ino: field(o, 'ino', isNumOrNull, `openFds[${i}]`),
    }));
    const tryOpenRaw = (doc as { tryOpen?: unknown }).tryOpen;
    const tryOpen =
      tryOpenRaw === undefined || tryOpenRaw === null
        ? undefined
        : { path: field(tryOpenRaw, 'path', isStr, 'tryOpen'), error: field(tryOpenRaw, 'error', isStrOrNull, 'tryOpen') };
    return {
      bytes: Buffer.from(field(doc, 'bytes', isStr, 'report'), 'base64'),
      reads,
      fds,
      openFds,
      tryOpen,
      uid: field(doc, 'uid', isNum, 'report'),
      gid: field(doc, 'gid', isNum, 'report'),
    };
  } catch (err) {
    if (err instanceof ShapeError) throw lying('client', err.message, text);
    throw err;
  }
}

export function parseServerReport(text: string): ServerFdReport {
  const line = text.split('\n').find((l) => l.trim().startsWith('{'));
  if (line === undefined) throw lying('server', 'no JSON line on stdout', text);
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch (err) {
    throw lying('server', `invalid JSON (${(err as Error).message})`, text);
  }
  try {
    return {
      sent: field(doc, 'sent', isArr, 'server').map((s, i) => ({
        index: field(s, 'index', isNum, `sent[${i}]`),
        kind: field(s, 'kind', (v): v is FdKind => FD_KINDS.includes(v as FdKind), `sent[${i}]`),
        dev: field(s, 'dev', isNum, `sent[${i}]`),
        ino: field(s, 'ino', isNum, `sent[${i}]`),
        offsetAfter: field(s, 'offsetAfter', isNumOrNull, `sent[${i}]`),
      })),
      error: field(doc, 'error', isStrOrNull, 'server'),
    };
  } catch (err) {
    if (err instanceof ShapeError) throw lying('server', err.message, text);
    throw err;
  }
}

/** Open fds of the receiver that refer to a sent object it was not given: leaked descriptors. */
export function leakedFds(client: ClientFdReport, sent: SentFd[], delivered: number): Array<{ fd: number; sentIndex: number }> {
  const undelivered = sent.slice(delivered);
  const received = new Set(client.fds.map((f) => `${f.dev}:${f.ino}`));
  const leaks: Array<{ fd: number; sentIndex: number }> = [];
  for (const open of client.openFds) {
    const s = undelivered.find((u) => u.dev === open.dev && u.ino === open.ino);
    // An fd whose object is also among the delivered ones (two items of one object) is not a leak.
    if (s && !received.has(`${open.dev}:${open.ino}`)) leaks.push({ fd: open.fd, sentIndex: s.index });
  }
  return leaks;
}
