/**
 * fast-check arbitraries for the suite's inputs, named for what they make.
 */
import fc from 'fast-check';
import { EDGE_SIZES, INVALID_UTF8, LONG_LINE_BYTES, patternBytes } from '../../fixtures/corpora/payloads.js';
import { PATH_CHARS, PATH_FIRST_CHARS, type NulPath } from '../../fixtures/corpora/paths.js';
import { SUN_PATH_MAX } from '../model/seed.js';

/** Largest generated payload: above 1 MiB so the 1 MiB edge has neighbours on both sides. */
export const MAX_PAYLOAD = 1024 * 1024 + 4096;

/** One line of structured text: its length before the line end, what ends it, and what breaks it. */
interface TextLine {
  length: number;
  eol: '\n' | '\r\n' | '';
  /** An ill-formed UTF-8 sequence put in the middle of the line (an index into INVALID_UTF8). */
  invalid: number | null;
}

const textLineArb: fc.Arbitrary<TextLine> = fc.record({
  // Mostly short lines; sometimes one past the 64 KiB a line reader holds.
  length: fc.oneof({ arbitrary: fc.integer({ min: 0, max: 200 }), weight: 8 }, { arbitrary: fc.integer({ min: LONG_LINE_BYTES - 8192, max: LONG_LINE_BYTES + 8192 }), weight: 1 }),
  eol: fc.constantFrom<TextLine['eol']>('\n', '\n', '\r\n', ''),
  invalid: fc.option(fc.integer({ min: 0, max: INVALID_UTF8.length - 1 }), { freq: 4 }),
});

function renderLine(line: TextLine, index: number): Buffer {
  const text = Buffer.alloc(line.length);
  for (let i = 0; i < line.length; i++) text[i] = 0x61 + ((i + index) % 26);
  const parts: Uint8Array[] = [text];
  if (line.invalid !== null) parts.splice(0, 1, text.subarray(0, line.length >> 1), INVALID_UTF8[line.invalid]!, text.subarray(line.length >> 1));
  return Buffer.concat([...parts, Buffer.from(line.eol)]);
}

/**
 * Text as line-, text- and chunk-based readers see it: lines ending in LF, CRLF or nothing (the last
 * one often has no newline), sometimes longer than 64 KiB, sometimes holding ill-formed UTF-8. It
 * shrinks line by line, so a counterexample is the one line that breaks a reader.
 */
export const structuredTextArb: fc.Arbitrary<Uint8Array> = fc
  .array(textLineArb, { minLength: 1, maxLength: 12 })
  .map((lines) => new Uint8Array(Buffer.concat(lines.map(renderLine))));

/**
 * Payloads: small arbitrary byte arrays (shrink to the exact bytes that matter, e.g. one NUL), text
 * with the structure readers break on, sizes on the buffer edges, and large pattern-filled payloads up
 * to MAX_PAYLOAD (shrinking on their size).
 */
export const payloadArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 96 }), weight: 5 },
  { arbitrary: structuredTextArb, weight: 2 },
  {
    arbitrary: fc
      .record({ size: fc.constantFrom(...EDGE_SIZES), delta: fc.integer({ min: -2, max: 2 }), seed: fc.integer() })
      .map(({ size, delta, seed }) => patternBytes(Math.max(0, size + delta), seed)),
    weight: 2,
  },
  { arbitrary: fc.record({ size: fc.integer({ min: 0, max: 256 * 1024 }), seed: fc.integer() }).map(({ size, seed }) => patternBytes(size, seed)), weight: 2 },
  { arbitrary: fc.record({ size: fc.integer({ min: 0, max: MAX_PAYLOAD }), seed: fc.integer() }).map(({ size, seed }) => patternBytes(size, seed)), weight: 1 },
);

/** Replaces NUL bytes (with '0'): for properties about the session rather than byte transparency. */
export function withoutNul(bytes: Uint8Array): Uint8Array {
  return bytes.map((b) => (b === 0 ? 0x30 : b));
}

/**
 * Payloads without NUL bytes, up to 256 KiB with the buffer edges: for properties about EOF and
 * sessions, so that a client's NUL quirk (a delivery.payload failure) is not counted twice.
 */
export const noNulPayloadArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    size: fc.oneof(
      fc.integer({ min: 0, max: 4096 }),
      fc.constantFrom(...EDGE_SIZES.filter((n) => n <= 212993)),
      fc.integer({ min: 0, max: 256 * 1024 }),
    ),
    seed: fc.integer(),
  })
  .map(({ size, seed }) => withoutNul(patternBytes(size, seed)));

/** Small payloads without NUL bytes, for properties about the session, not the bytes. */
export const smallTextPayloadArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({ min: 1, maxLength: 4096 });

/** Payloads that do not need to be large: for properties about the session, not the bytes. */
export const smallPayloadArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({ minLength: 0, maxLength: 4096 });

/** A socket path description; the harness turns it into a concrete path inside the case dir. */
export interface PathSpec {
  form: 'relative' | 'absolute';
  /** Wanted length in bytes of the whole path (absolute paths cannot be shorter than the case dir). */
  length: number;
  /** Characters the name is built from, cycled until the length is reached. */
  chars: string[];
}

const pathRestArb = fc.array(fc.constantFrom(...PATH_CHARS), { maxLength: 12 });

/** Paths of 1 to 107 bytes; now and then a relative one starting with '-' (read as an option by a careless CLI). */
export const socketPathArb: fc.Arbitrary<PathSpec> = fc.oneof(
  {
    arbitrary: fc.record({
      form: fc.constantFrom<'relative' | 'absolute'>('relative', 'absolute'),
      length: fc.integer({ min: 1, max: SUN_PATH_MAX }),
      chars: fc.tuple(fc.constantFrom(...PATH_FIRST_CHARS), pathRestArb).map(([first, rest]) => [first, ...rest]),
    }),
    weight: 9,
  },
  {
    arbitrary: fc.record({
      form: fc.constant<'relative'>('relative'),
      length: fc.integer({ min: 1, max: SUN_PATH_MAX }),
      chars: pathRestArb.map((rest) => ['-', ...rest]),
    }),
    weight: 1,
  },
);

const nulPartArb = (minLength: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...PATH_FIRST_CHARS), { minLength, maxLength: 16 }).map((cs) => cs.join(''));

/** A path with a NUL inside: a name before it (never empty), anything or nothing after it. */
export const nulPathArb: fc.Arbitrary<NulPath> = fc.record({ prefix: nulPartArb(1), suffix: nulPartArb(0) });

/**
 * Builds the path: a name of exactly the wanted byte length (multi-byte characters that would overrun
 * are replaced by ASCII), either relative to the case dir or absolute inside it. A name never ends
 * with a space or dot so that every tool sees the same file.
 */
export function materializePath(spec: PathSpec, dir: string): string {
  const prefix = spec.form === 'absolute' ? `${dir}/` : '';
  const want = Math.max(1, spec.length - Buffer.byteLength(prefix));
  let name = '';
  let i = 0;
  while (Buffer.byteLength(name) < want) {
    const c = spec.chars[i++ % spec.chars.length]!;
    const room = want - Buffer.byteLength(name);
    name += Buffer.byteLength(c) <= room ? c : 'x';
  }
  name = name.replace(/[ .]$/, 'z');
  return prefix + name;
}
