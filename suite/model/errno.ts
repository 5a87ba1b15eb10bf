/**
 * Errors as libraries print them. A C program prints strerror(3)'s text ("connect: No such file or
 * directory"), Node the errno name ("connect ENOENT /tmp/x"), Python both ("[Errno 2] No such file or
 * directory"), Go the text in lower case ("connect: no such file or directory"), Rust the text with the
 * number ("No such file or directory (os error 2)"). So an error counts as named when stderr holds its
 * name or its strerror text, in any case, as whole words. A few libraries refuse a too-long sun_path
 * before any system call, in words of their own: those wordings are listed here too, with their source.
 */

/** glibc's strerror(3) text for each errno a property names (the same on musl for these). */
export const STRERROR = {
  ENOENT: 'No such file or directory',
  ECONNREFUSED: 'Connection refused',
  ENAMETOOLONG: 'File name too long',
  EINVAL: 'Invalid argument',
  EADDRINUSE: 'Address already in use',
  EACCES: 'Permission denied',
  EPERM: 'Operation not permitted',
  ENOTDIR: 'Not a directory',
  ENOTSOCK: 'Socket operation on non-socket',
  EPROTOTYPE: 'Protocol wrong type for socket',
  ECONNRESET: 'Connection reset by peer',
  EPIPE: 'Broken pipe',
  EEXIST: 'File exists',
  ELOOP: 'Too many levels of symbolic links',
} as const;

export type ErrnoName = keyof typeof STRERROR;

/** A library's own wording for an errno it never gets from the kernel, and where it comes from. */
export interface LibraryWording {
  text: string;
  source: string;
}

/**
 * Library wordings of an errno, beside the name and the strerror text. Each is checked before any
 * system call, so no errno is printed: the wording is the refusal.
 */
export const LIBRARY_WORDINGS: Partial<Record<ErrnoName, readonly LibraryWording[]>> = {
  ENAMETOOLONG: [
    { text: 'AF_UNIX path too long', source: 'CPython Modules/socketmodule.c getsockaddrarg: OSError("AF_UNIX path too long")' },
    { text: 'path must be shorter than SUN_LEN', source: 'Rust std::os::unix::net (library/std/src/os/unix/net/addr.rs), io::ErrorKind::InvalidInput' },
    { text: 'max length is', source: 'socat 1.7: "E unix socket address 120 characters long, max length is 108"' },
  ],
};

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A whole-word, case-insensitive pattern for a phrase (any run of whitespace between its words). */
function wholeWords(phrase: string): RegExp {
  return new RegExp(`\\b${phrase.split(/\s+/).map(escapeRegExp).join('\\s+')}\\b`, 'i');
}

const PATTERNS = new Map<ErrnoName, RegExp[]>(
  (Object.keys(STRERROR) as ErrnoName[]).map((name) => [
    name,
    [name, STRERROR[name], ...(LIBRARY_WORDINGS[name] ?? []).map((w) => w.text)].map(wholeWords),
  ]),
);

/** Which of `names` the text names (its errno name, strerror text or a library wording), in order; undefined if none. */
export function namedErrno(text: string, names: readonly ErrnoName[]): ErrnoName | undefined {
  return names.find((name) => PATTERNS.get(name)!.some((pattern) => pattern.test(text)));
}

/** How an errno is written in a message: `ENOENT ("No such file or directory")`. */
export function errnoText(name: ErrnoName): string {
  return `${name} ("${STRERROR[name]}")`;
}
