/**
 * Fitting text to a terminal: its width, whether to colour, and wrapping that keeps a line within the
 * width (prose at spaces, a shell command with `\` continuations that still paste as one command).
 * Every function takes the stream and environment it reads, so tests decide them without globals.
 */
import { stripVTControlCharacters } from 'node:util';
import picocolors from 'picocolors';

/** What the width and colour decisions read of a stream: process.stdout has both. */
export interface TerminalStream {
  isTTY?: boolean;
  columns?: number;
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Without a terminal and without COLUMNS (a CI log, a file): the classic 80. */
export const DEFAULT_WIDTH = 80;
/** Narrower than this, nothing readable fits; a smaller COLUMNS is taken as this. */
export const MIN_WIDTH = 40;

/**
 * The width to fit: COLUMNS when it is a positive integer, else the terminal's own (a TTY's
 * `columns`), else 80. COLUMNS first, as Python's shutil.get_terminal_size and GNU ls do, so a user
 * (or a test) can ask for a width whatever the stream is.
 */
export function terminalWidth(stream: TerminalStream, env: Env): number {
  const fromEnv = /^\d+$/.test(env.COLUMNS ?? '') ? Number(env.COLUMNS) : 0;
  const width = fromEnv > 0 ? fromEnv : stream.isTTY && stream.columns && stream.columns > 0 ? stream.columns : DEFAULT_WIDTH;
  return Math.max(MIN_WIDTH, width);
}

/**
 * Whether to colour, by the conventions picocolors follows, decided for the stream written to rather
 * than for process.stdout at import: NO_COLOR (non-empty, no-color.org) turns colour off and wins;
 * FORCE_COLOR turns it on (except `0` and `false`, as Node and supports-color read them); otherwise
 * colour is on for a TTY whose TERM is not `dumb`. Unlike picocolors' default, CI alone does not turn it
 * on: a CI log that renders colour asks with FORCE_COLOR=1.
 */
export function colorEnabled(stream: TerminalStream, env: Env): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return stream.isTTY === true && env.TERM !== 'dumb';
}

export type Colors = ReturnType<typeof picocolors.createColors>;

/** picocolors' formatters, on or off. */
export function colors(enabled: boolean): Colors {
  return picocolors.createColors(enabled);
}

/** The columns a string takes: without escape sequences (every character here is one column wide). */
export function visibleWidth(text: string): number {
  return [...stripVTControlCharacters(text)].length;
}

export function pad(text: string, width: number): string {
  const w = visibleWidth(text);
  return w >= width ? text : text + ' '.repeat(width - w);
}

/**
 * Prose in lines of at most `width` columns: the first line starts with `first`, the others with
 * `rest` (a hanging indent). Breaks at spaces (the spaces within a line kept as they are); a word
 * longer than a line is cut.
 */
export function wrap(text: string, width: number, first = '', rest = first): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  const room = (prefix: string): number => Math.max(8, width - visibleWidth(prefix));
  for (const token of text.match(/\s*\S+/g) ?? []) {
    let word = empty ? token.trimStart() : token;
    for (;;) {
      if (visibleWidth(line) + [...word].length <= width) {
        line += word;
        empty = false;
        break;
      }
      if (!empty) {
        lines.push(line);
        line = rest;
        empty = true;
        word = word.trimStart();
        continue;
      }
      // An empty line and still too long: cut the word.
      const chars = [...word];
      const n = room(line);
      lines.push(line + chars.slice(0, n).join(''));
      word = chars.slice(n).join('');
      line = rest;
      if (word === '') break;
    }
  }
  if (!empty || lines.length === 0) lines.push(line);
  return lines;
}

/** Items joined by `sep`, in lines of at most `width` columns; an item is never split between lines unless it alone is too long. */
export function wrapItems(items: string[], width: number, sep = ' · ', indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    const next = line === '' ? indent + item : line + sep + item;
    if (visibleWidth(next) <= width || line === '') line = next;
    else {
      lines.push(line);
      line = indent + item;
    }
  }
  if (line !== '') lines.push(line);
  return lines.flatMap((l) => (visibleWidth(l) <= width ? [l] : wrap(stripVTControlCharacters(l), width, '', indent)));
}

/** A shell command's words: split at spaces outside single quotes (the quoting replayLine writes). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let quoted = false;
  let escaped = false;
  for (const ch of command) {
    const literal: boolean = escaped;
    if (ch === "'" && !literal) quoted = !quoted;
    escaped = !quoted && !literal && ch === '\\';
    if (ch === ' ' && !quoted && !literal) {
      if (word !== '') words.push(word);
      word = '';
    } else word += ch;
  }
  if (word !== '') words.push(word);
  return words;
}

/**
 * Cuts one shell word into pieces of at most `n` characters that a shell joins back into the same
 * word: each piece but the last ends with a backslash-newline continuation, closing a single quote
 * before it and reopening it after (a backslash-newline inside single quotes is literal). Never cuts
 * after a backslash that escapes the next character.
 */
function cutWord(word: string, n: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  let quoted = false;
  let escaping = false;
  const chars = [...word];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    piece += ch;
    if (ch === "'" && !escaping) quoted = !quoted;
    escaping = !quoted && !escaping && ch === '\\';
    if (piece.length >= n - 2 && i < chars.length - 1 && !escaping) {
      pieces.push(quoted ? `${piece}'\\` : `${piece}\\`);
      piece = quoted ? "'" : '';
    }
  }
  pieces.push(piece);
  return pieces;
}

/**
 * A shell command in lines of at most `width` columns that still paste as the one command: lines
 * break between words with ` \` and go on indented; a word too long for a line is cut with a
 * backslash-newline and goes on at the start of the next line (an indent there would split the word).
 */
export function wrapShell(command: string, width: number, first = '', rest = '    '): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  const words = shellWords(command);
  for (let k = 0; k < words.length; k++) {
    const word = words[k]!;
    const last = k === words.length - 1;
    // Room for the word and, unless it is the last, a following " \".
    const tail = last ? 0 : 2;
    const sep = empty ? '' : ' ';
    if (visibleWidth(line) + sep.length + word.length + tail <= width) {
      line += sep + word;
      empty = false;
      continue;
    }
    if (!empty && visibleWidth(rest) + word.length + tail <= width) {
      lines.push(`${line} \\`);
      line = rest + word;
      continue;
    }
    // Too long for any line: it starts a line of its own (unindented after the first piece).
    if (!empty) lines.push(`${line} \\`);
    const pieces = cutWord(word, width - (empty ? visibleWidth(line) : visibleWidth(rest)));
    const start = empty ? line : rest;
    lines.push(start + pieces[0]!);
    for (const p of pieces.slice(1, -1)) lines.push(p);
    line = pieces.length > 1 ? pieces.at(-1)! : lines.pop()!;
    empty = false;
  }
  lines.push(line);
  return lines;
}
