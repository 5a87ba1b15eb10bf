/**
 * The harness's own peers for properties that need a socket of their own at a path: a listener that
 * answers every connection with a banner (a decoy at a truncated prefix, a first server that must not
 * be stolen from), and a one-shot fetch of what a server at a path sends.
 */
import net from 'node:net';

export interface BannerListener {
  /** Connections it has accepted so far. */
  accepted(): number;
  /** Closes it and ends the connections a subject still holds open. */
  close(): Promise<void>;
}

/** Listens at path and answers each connection with banner, then closes it; onConnection sees each. */
export async function bannerListener(path: string, banner: Uint8Array | string, onConnection?: () => void): Promise<BannerListener> {
  const open = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    onConnection?.();
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
    socket.end(banner);
  });
  await new Promise<void>((ok, bad) => {
    server.once('error', bad);
    server.listen(path, () => ok());
  });
  return {
    accepted: () => accepted,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        for (const socket of open) socket.destroy();
      }),
  };
}

export const closeAll = (listeners: BannerListener[]): Promise<unknown> => Promise.all(listeners.map((l) => l.close()));

/** Connects to path and reads until EOF: the bytes, or the error code (e.g. ECONNREFUSED). Ends at the case deadline. */
export function fetchFrom(path: string, signal: AbortSignal): Promise<{ bytes: Buffer } | { error: string }> {
  return new Promise((done) => {
    const chunks: Buffer[] = [];
    const socket = net.createConnection(path);
    const onAbort = (): void => {
      socket.destroy();
      done({ error: 'the case deadline passed before EOF' });
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      signal.removeEventListener('abort', onAbort);
      done({ error: err.code ?? err.message });
    });
    socket.on('end', () => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      done({ bytes: Buffer.concat(chunks) });
    });
  });
}
