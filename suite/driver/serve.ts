/**
 * Any DriverAdapter as a process driver: read JSON command lines, run each with dispatchCommand (as
 * the in-process transport does), write one answer line per command, in order. This is how an
 * in-process adapter serves the properties that need a process of its own (a privilege drop, its own
 * fd table): fixtures/ts-native/driver-main.ts is
 * `process.exitCode = await serveAdapter(createTsNativeAdapter(), process.stdin, process.stdout)`.
 */
import { createInterface } from 'node:readline';
import { dispatchCommand, refusal } from './dispatch.js';
import type { DriverAdapter } from './protocol.js';

/**
 * Serves the adapter until quit (resolving with its status) or the end of input (quit 0). Rejects when
 * the adapter crashes (throws without an errno code): a process driver then dies, and the harness
 * reports the exit and the stack on stderr.
 */
export async function serveAdapter(adapter: DriverAdapter, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<number> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      let command: unknown;
      try {
        command = JSON.parse(line);
      } catch (err) {
        await writeLine(output, refusal(undefined, 'EINVAL', `not a command: ${(err as Error).message}`));
        continue;
      }
      const result = await dispatchCommand(adapter, command);
      if ('crash' in result) {
        throw new Error(`the adapter crashed in ${result.cmd} (command ${result.id})`, { cause: result.crash });
      }
      await writeLine(output, result.answer);
      if (result.quit !== undefined) return result.quit;
    }
  } finally {
    // Stops reading (and pauses the input), so a served process can exit after quit.
    lines.close();
  }
  await adapter.quit?.({ status: 0 });
  return 0;
}

/** Writes one answer line and waits until it is handed on: answers are flushed one by one. */
function writeLine(output: NodeJS.WritableStream, answer: Record<string, unknown>): Promise<void> {
  return new Promise((resolve, reject) => {
    output.write(`${JSON.stringify(answer)}\n`, (err?: Error | null) => (err ? reject(err) : resolve()));
  });
}
