/**
 * Bounded output capture. A subject may flood its output; the harness keeps a hash and the length of
 * everything, the first `cap` bytes for evidence, and, when it knows what to expect, compares
 * incrementally so that the first differing offset is known without keeping the whole stream.
 */
import { createHash, type Hash } from 'node:crypto';
import type { ByteComparison } from '../model/types.js';

export interface CaptureOptions {
  /** Bytes kept for evidence; the rest is hashed and counted only. */
  cap: number;
  /** When given, the capture tracks the first offset where the stream departs from it. */
  expected?: Uint8Array;
}

export class OutputCapture {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private total = 0;
  private readonly hash: Hash = createHash('sha256');
  /** Bytes of the stream fed to `hash` so far; see push(). */
  private hashed = 0;
  private mismatch: number | null = null;
  private readonly expected: Buffer | undefined;
  private expectedHash: string | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly options: CaptureOptions) {
    const e = options.expected;
    this.expected = e ? Buffer.from(e.buffer, e.byteOffset, e.byteLength) : undefined;
  }

  /**
   * Speed matters here: a large payload streams through push() on the harness's thread. The comparison
   * is a memcmp (Buffer.compare, GB/s), with a byte loop only in a chunk known to differ (a per-byte JS
   * loop ran at about 130 MB/s). While the stream equals the expected bytes it is not hashed: its hash
   * is the expected bytes' hash, so hashing catches up from the expected bytes only at a difference
   * (or when asked), and a passing case never hashes its output twice.
   */
  push(chunk: Uint8Array): void {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const expected = this.expected;
    const before = this.total;
    if (expected && this.mismatch === null) {
      const n = Math.min(buf.length, Math.max(0, expected.length - before));
      if (n > 0 && Buffer.compare(buf.subarray(0, n), expected.subarray(before, before + n)) !== 0) {
        for (let i = 0; i < n; i++) {
          if (buf[i] !== expected[before + i]) {
            this.mismatch = before + i;
            break;
          }
        }
      }
      if (this.mismatch === null && n < buf.length) this.mismatch = expected.length;
    }
    if (!expected || this.mismatch !== null) {
      // Up to `before` the stream equalled the expected bytes (or everything was hashed already).
      if (expected && this.hashed < before) this.hash.update(expected.subarray(this.hashed, before));
      this.hash.update(buf);
      this.hashed = before + buf.length;
    }
    if (this.kept < this.options.cap) {
      const take = buf.subarray(0, this.options.cap - this.kept);
      this.chunks.push(Buffer.from(take));
      this.kept += take.length;
    }
    this.total += buf.length;
    for (const listener of this.listeners) listener();
  }

  /**
   * Whether the stream so far is exactly the expected bytes, all of them: the moment a session's
   * quiet period starts (properties/session.ts). False without expected bytes.
   */
  get complete(): boolean {
    return this.expected !== undefined && this.mismatch === null && this.total === this.expected.length;
  }

  /** Calls listener after every chunk pushed; returns the function that removes it. */
  onPush(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  get length(): number {
    return this.total;
  }

  /** Whether bytes were dropped from what is kept. */
  get truncated(): boolean {
    return this.total > this.kept;
  }

  /** The kept bytes (at most `cap`). */
  head(): Buffer {
    return Buffer.concat(this.chunks, this.kept);
  }

  text(): string {
    const s = this.head().toString('utf8');
    return this.truncated ? `${s}\n[... ${this.total - this.kept} more bytes not kept]` : s;
  }

  sha256(): string {
    if (this.expected && this.hashed < this.total) {
      // Not hashed yet: everything so far equals the expected bytes' prefix.
      if (this.hashed === 0 && this.total === this.expected.length) return this.expectedSha256();
      return this.hash.copy().update(this.expected.subarray(this.hashed, this.total)).digest('hex');
    }
    return this.hash.copy().digest('hex');
  }

  private expectedSha256(): string {
    this.expectedHash ??= createHash('sha256').update(this.expected!).digest('hex');
    return this.expectedHash;
  }

  /** Compares the whole stream with the expected bytes given at construction. */
  compare(): ByteComparison {
    const expected = this.options.expected;
    if (!expected) throw new Error('OutputCapture.compare: no expected bytes were given');
    let first = this.mismatch;
    if (first === null && this.total < expected.length) first = this.total;
    const comparison: ByteComparison = {
      expectedLength: expected.length,
      actualLength: this.total,
      expectedSha256: this.expectedSha256(),
      actualSha256: this.sha256(),
      firstDifference: first,
    };
    if (first !== null) {
      const from = Math.max(0, first - 8);
      comparison.expectedContext = describeBytes(expected.subarray(from, first + 8), from);
      const head = this.head();
      comparison.actualContext =
        first < head.length || from < head.length
          ? describeBytes(head.subarray(from, first + 8), from)
          : head.length === 0
            ? '(no output)'
            : `(offset ${from} is past the ${head.length === 1 ? '1 byte' : `${head.length} bytes`} kept)`;
    }
    return comparison;
  }
}

/** A few bytes for evidence: printable ASCII as is, the rest escaped, prefixed by the start offset. */
export function describeBytes(bytes: Uint8Array, offset = 0): string {
  if (bytes.length === 0) return `@${offset}: (no bytes)`;
  return `@${offset}: "${escapeBytes(bytes)}"`;
}

export function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    else if (b === 0x0a) out += '\\n';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}
