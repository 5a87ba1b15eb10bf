/**
 * The process transport: a driver that is a process of its own, one JSON command per line on its
 * stdin and one answer per line on its stdout (docs/driver-protocol.md, Framing). It is started like
 * every subject process (prepareCommand for argv, cwd and environment; spawnProcess for its process
 * group, the deadline and the kill), and its stderr goes into its summary for evidence.
 */
import type { Writable } from 'node:stream';
import type { DriverTransport, TransportSink } from './client.js';
import { OutputCapture } from '../harness/capture.js';
import { prepareCommand, type CommandVars } from '../harness/command.js';
import { spawnProcess, type Spawned } from '../harness/process.js';
import type { CommandTemplate, ProcessSummary } from '../model/types.js';

/** Longest answer line accepted (a 64 MiB recv is ~90 MB of base64). */
export const MAX_LINE = 128 * 1024 * 1024;

/** Splits a driver's stdout into lines while keeping the usual bounded capture for evidence. */
export class LineCapture extends OutputCapture {
  private partial: Buffer[] = [];
  private partialLength = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {
    super({ cap: 64 * 1024 });
  }

  override push(chunk: Uint8Array): void {
    super.push(chunk);
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      this.partial.push(buf.subarray(0, nl));
      const line = Buffer.concat(this.partial, this.partialLength + nl).toString('utf8');
      this.partial = [];
      this.partialLength = 0;
      buf = buf.subarray(nl + 1);
      this.onLine(line);
    }
    if (buf.length > 0) {
      this.partial.push(Buffer.from(buf));
      this.partialLength += buf.length;
      if (this.partialLength > MAX_LINE) {
        this.partial = [];
        this.partialLength = 0;
        this.onOverflow();
      }
    }
  }
}

export interface ProcessTransportOptions {
  /** The case dir: the default cwd and {dir}. */
  dir: string;
  signal: AbortSignal;
  /** The run's extra environment (e.g. NODE_V8_COVERAGE under --coverage). */
  extraEnv?: Record<string, string>;
  /** Placeholder values besides {dir}. */
  vars?: CommandVars;
  /** Run as this uid/gid (privilege drop). */
  uid?: number;
  gid?: number;
}

export class ProcessTransport implements DriverTransport {
  readonly how = 'process' as const;
  readonly exited: Promise<ProcessSummary>;
  private sink: TransportSink | undefined;
  /** What arrived before attach: a driver may write before the client is listening. */
  private readonly early: Array<(sink: TransportSink) => void> = [];
  private readonly child: Spawned;
  private readonly stdin: Writable;

  constructor(template: CommandTemplate, options: ProcessTransportOptions) {
    const command = prepareCommand(template, { dir: options.dir, vars: options.vars, extraEnv: options.extraEnv });
    // The capture exists before the process, so not one line is missed.
    const stdout = new LineCapture(
      (line) => this.deliver((sink) => sink.answer(line)),
      () => this.deliver((sink) => sink.violation(`an answer line longer than ${MAX_LINE} bytes`, '')),
    );
    this.child = spawnProcess(command.argv, {
      cwd: command.cwd,
      env: command.env,
      signal: options.signal,
      stdin: 'pipe',
      stdout,
      uid: options.uid,
      gid: options.gid,
    });
    if (!this.child.stdin) throw new Error('spawnProcess gave no stdin pipe');
    this.stdin = this.child.stdin;
    // A write to a driver that has died fails with EPIPE; its exit is reported instead.
    this.stdin.on('error', () => undefined);
    this.exited = this.child.exited;
  }

  attach(sink: TransportSink): void {
    this.sink = sink;
    for (const delivery of this.early.splice(0)) delivery(sink);
  }

  request(_command: Record<string, unknown>, line: string): void {
    this.stdin.write(`${line}\n`);
  }

  end(): void {
    this.stdin.end();
  }

  kill(): void {
    this.child.kill();
  }

  private deliver(delivery: (sink: TransportSink) => void): void {
    if (this.sink) delivery(this.sink);
    else this.early.push(delivery);
  }
}
