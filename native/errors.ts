/** The errors of uds_native: Node-style system errors carrying code, errno and syscall. */
import { binding } from './binding.js';

/** The errors this module throws for a failed system call. */
export interface NativeError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** Whether err is a failed system call (optionally: with this errno name). */
export function isNativeError(err: unknown, code?: string): err is NativeError {
  if (!(err instanceof Error)) return false;
  const e = err as Partial<NativeError>;
  return typeof e.code === 'string' && typeof e.errno === 'number' && (code === undefined || e.code === code);
}

/** An error of the same form as the addon's, e.g. for ECANCELED raised in TypeScript. */
export function errnoError(syscall: string, errno: number): NativeError {
  const b = binding();
  const err = new Error(`${syscall}: ${b.strerror(errno)}`) as NativeError;
  return Object.assign(err, { code: b.errnoName(errno), errno, syscall });
}

/** The C library's text for an errno (`strerror`), e.g. "Bad file descriptor". */
export const strerror = (errno: number): string => binding().strerror(errno);
/** The errno's symbolic name (`strerrorname_np`), e.g. "EBADF". */
export const errnoName = (errno: number): string => binding().errnoName(errno);
