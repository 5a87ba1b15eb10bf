/**
 * The implementation registry: every implementation the suite knows, with the roles it plays, how each
 * role starts (a command template and/or an in-process function), whether its server takes a payload,
 * its driver, and the properties it is known to fail. What a driver can do is not listed here: the
 * plan asks it (hello). Built-ins are listed here; mutants and subjects are added by
 * their own modules.
 */
import { join } from 'node:path';
import { tsNative } from '../fixtures/ts-native/index.js';
import { tsNet } from '../fixtures/ts-net/index.js';
import { C_BIN } from './harness/paths.js';
import type { Implementation } from './model/types.js';


export const cOriginal: Implementation = {
  name: 'c-original',
  kind: 'builtin',
  description: "The seed's server.c and client.c, faithfully (path from argv[1]); see c-reference/original/NOTES.md.",
  server: { command: { command: [join(C_BIN, 'original-server'), '{path}'] }, payload: false },
  client: { command: { command: [join(C_BIN, 'original-client'), '{path}'] } },
  expectations: {
    'delivery.payload': {
      status: 'fail',
      role: 'client',
      reason: 'The seed client prints each chunk with fputs, so output stops at the first NUL byte of every read.',
    },
    'path.forms': {
      status: 'fail',
      role: 'server',
      reason:
        'The seed server binds with sizeof(struct sockaddr), so only the first 14 bytes of the path are bound and clients of the full path get ENOENT.',
    },
    'path.too-long-server': {
      status: 'fail',
      role: 'server',
      reason: 'The seed server binds the first 14 bytes of any path instead of refusing one that does not fit.',
    },
    'path.too-long-client': {
      status: 'fail',
      role: 'client',
      reason: 'The seed client copies at most 107 bytes with strncpy and connects to that prefix instead of refusing the path.',
    },
    'path.full-sun-path-server': {
      status: 'fail',
      role: 'server',
      reason: 'The seed server binds with sizeof(struct sockaddr), so a 108-byte path is cut to its first 14 bytes.',
    },
    'path.full-sun-path-client': {
      status: 'fail',
      role: 'client',
      reason: 'The seed client copies at most 107 bytes with strncpy, so a 108-byte path is cut to its 107-byte prefix and connected there.',
    },
    'path.live-not-stolen': {
      status: 'fail',
      role: 'server',
      reason: 'The seed server unlinks whatever is at its path before bind, so it removes a live socket and takes over the address of the server listening there.',
    },
    'path.non-socket-kept': {
      status: 'fail',
      role: 'server',
      reason: 'The seed server unlinks whatever is at its path before bind, so a regular file there is removed and its data lost (a symlink too; only a directory survives, as unlink(2) refuses it).',
    },
    'cleanup.own-path-only': {
      status: 'fail',
      role: 'server',
      reason: 'The seed server ends with unlink(socketPath) by name, without checking that the file is still the socket it bound, so it removes a socket another server has bound at the path since.',
    },
    'cleanup.client-keeps-path': {
      status: 'fail',
      role: 'client',
      reason: "The seed client ends with unlink(socketPath): it removes its server's socket file, so a server that keeps listening gets no further clients (they get ENOENT).",
    },
  },
};

export const cReference: Implementation = {
  name: 'c-reference',
  kind: 'builtin',
  description: 'The corrected C server and client of the seed protocol; the suite\'s oracle peer.',
  server: {
    command: { command: [join(C_BIN, 'reference-server'), '{path}', '{payload}'] },
    commandWithoutPayload: { command: [join(C_BIN, 'reference-server'), '{path}'] },
    payload: true,
  },
  client: { command: { command: [join(C_BIN, 'reference-client'), '{path}'] } },
  driver: { command: { command: [join(C_BIN, 'reference-driver')] } },
  expectations: {},
};

export { tsNative, tsNet };

export function builtinImplementations(): Implementation[] {
  return [cOriginal, cReference, tsNet, tsNative];
}
