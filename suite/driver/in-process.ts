/**
 * The in-process transport: a DriverAdapter (a library in the harness's own process) driven through
 * the same command objects a process driver reads. Each command is run by dispatchCommand, the answer
 * object is written as the JSON line a process driver would print, and that line goes to the client,
 * which parses and judges it like any other. The serialization costs a JSON round trip per command;
 * it buys a transcript identical in format to a process driver's and one code path for every check.
 *
 * Commands run one at a time, in order, as a process driver reads its stdin: an adapter never sees
 * two commands at once, and answers come back in order.
 */
import type { DriverTransport, TransportSink } from './client.js';
import { dispatchCommand } from './dispatch.js';
import type { DriverAdapter } from './protocol.js';
import type { ProcessSummary } from '../model/types.js';

/** How long kill() waits for the adapter's quit to close what it holds before it calls it finished. */
const QUIT_GRACE_MS = 2000;

export class InProcessTransport implements DriverTransport {
  readonly how = 'in-process' as const;
  readonly exited: Promise<ProcessSummary>;
  private resolveExited!: (summary: ProcessSummary) => void;
  private sink: TransportSink | undefined;
  private readonly early: string[] = [];
  /** The command now running and those waiting behind it. */
  private queue: Promise<void> = Promise.resolve();
  /** No command is run or answered any more (quit answered, killed, crashed). */
  private ending = false;
  private done = false;
  /** adapter.quit has been called (by a quit command or by kill): never twice. */
  private quitCalled = false;
  private readonly started = performance.now();
  private answered = 0;
  private stderr = '';

  constructor(
    private readonly adapter: DriverAdapter,
    private readonly signal: AbortSignal,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    for (const line of this.early.splice(0)) sink.answer(line);
  }

  request(command: Record<string, unknown>): void {
    this.queue = this.queue.then(() => this.run(command));
  }

  /** Nothing to do: an adapter has no stdin to close, and ends at quit or kill. */
  end(): void {}

  kill(): void {
    if (this.ending) return;
    this.ending = true;
    let closing = Promise.resolve();
    if (!this.quitCalled && this.adapter.quit) {
      this.quitCalled = true;
      closing = this.adapter.quit({ status: 0 }).catch((err: unknown) => this.note(`quit after kill: ${String(err)}`));
    }
    // An adapter whose quit hangs must not hold the case's cleanup for ever.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, QUIT_GRACE_MS)));
    void Promise.race([closing, grace]).then(() => {
      clearTimeout(timer);
      // SIGKILL is what the harness does to a process driver here: the summaries read the same.
      this.finish(null, 'SIGKILL');
    });
  }

  private async run(command: Record<string, unknown>): Promise<void> {
    if (this.ending) return;
    if (command.cmd === 'quit') this.quitCalled = true;
    const result = await dispatchCommand(this.adapter, command);
    if (this.ending) return;
    if ('crash' in result) {
      const err = result.crash;
      const detail = err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : `a throw of ${JSON.stringify(err) ?? String(err)}`;
      this.note(`${result.cmd}: ${detail}`);
      this.sink?.crash(`\`${result.cmd}\``, detail);
      // Like a process that died: nothing more is answered. Its quit still closes what it holds.
      this.kill();
      return;
    }
    const line = JSON.stringify(result.answer);
    this.answered += Buffer.byteLength(line) + 1;
    if (this.sink) this.sink.answer(line);
    else this.early.push(line);
    if (result.quit !== undefined) {
      this.ending = true;
      this.finish(result.quit, null);
    }
  }

  private note(text: string): void {
    this.stderr = `${this.stderr}${text}\n`.slice(-16 * 1024);
  }

  private finish(exitCode: number | null, signal: string | null): void {
    if (this.done) return;
    this.done = true;
    this.resolveExited({
      how: 'in-process',
      exitCode,
      signal,
      timedOut: this.signal.aborted,
      stderr: this.stderr,
      stdoutLength: this.answered,
      durationMs: performance.now() - this.started,
    });
  }
}
