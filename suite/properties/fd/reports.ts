/**
 * What one fd session saw, side by side: the sender's record of every fd it made and sent, and the
 * receiver's reads, the fds it received (each stat-ed and read through) and its whole fd table. The
 * session (session.ts) builds both from the drivers' answers; the fd properties check them.
 */

/** How the receiving side reads, in the session's terms (each maps onto a driver command's field). */
export interface FdClientOptions {
  /** recv's dataSize: the data buffer of each recvmsg (default 65536, at least 1). */
  recvBuf?: number;
  /** recv's controlFds: the control buffer is exactly CMSG_LEN(K * sizeof(int)) (default 253). */
  ctlFds?: number;
  /** recv's cloexec: receive with MSG_CMSG_CLOEXEC. */
  cloexec?: boolean;
  /** recv's plain: read the stream with read(2); the kernel discards passed fds. */
  plainRead?: boolean;
  /** Bytes read through each received fd after EOF (default 9). */
  readFdBytes?: number;
  /** Also try open(PATH, O_RDONLY) and report the errno name. */
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

/** The content a driver's mkfd puts behind fd number i (docs/driver-protocol.md). */
export function fdContent(index: number, kind: FdKind): Buffer {
  return Buffer.from(`fd-${index}-${kind}\n`.repeat(4));
}

/** How the receiver's fstat names a kind the sender created (a memfd is a regular file). */
export function receivedKind(kind: FdKind): string {
  return kind === 'memfd' ? 'file' : kind;
}

/** `file,file,pipe` → `file*2,pipe`: a short name for a list of kinds, for evidence. */
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
