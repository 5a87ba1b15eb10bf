/** Path forms: any pathname that fits sun_path works, relative or absolute, with any characters. */
import { DIGIT_ONLY_NAMES, EDGE_PATH_LENGTHS, LEADING_DASH_NAMES } from '../../fixtures/corpora/paths.js';
import { materializePath, socketPathArb, type PathSpec } from './arbitraries.js';
import type { Property } from './property.js';
import { plainServe, session, sides } from './session.js';
import { requireSession } from './session-proof.js';
import { expectBytes, expectExitZero, requireReady } from './verify.js';

export const pathForms: Property<PathSpec> = {
  id: 'path.forms',
  level: 'MUST',
  category: 'paths',
  scope: 'pairing',
  requirement: 'Absolute and relative socket paths of 1 to 107 bytes, including spaces, non-ASCII bytes and a relative name starting with "-" (a file name, not an option), work for server and client alike.',
  reference: 'unix(7): sun_path is 108 bytes including the NUL; CPython test_socket.py TestUnixDomain (testSurrogateescapeBind: non-ASCII paths)',
  arbitrary: socketPathArb,
  examples: [
    ...EDGE_PATH_LENGTHS.map((length): PathSpec => ({ form: 'relative', length, chars: ['a', 'é', ' ', 'b'] })),
    { form: 'absolute', length: 107, chars: ['p', '中', 'q'] },
    // Characters that tools with an address syntax of their own read specially (socat's "," and ":").
    { form: 'relative', length: 12, chars: ['s', ',', 'o', ':', 'c', '=', '!'] },
    // Digit-only names, which Node's net takes for TCP ports: tried on every seed.
    ...DIGIT_ONLY_NAMES.map((name): PathSpec => ({ form: 'relative', length: name.length, chars: [...name] })),
    // Names starting with '-', which a command line that parses options takes for one: tried on every seed.
    ...LEADING_DASH_NAMES.map((name): PathSpec => ({ form: 'relative', length: name.length, chars: [...name] })),
  ],
  maxRuns: 30,
  async check(spec, ctx) {
    const path = materializePath(spec, ctx.dir);
    // A relative path must reach the implementation as given, so in-process roles (which share the
    // harness's cwd) cannot take it: those cases run the role as a process in the case dir.
    const mode = spec.form === 'relative' ? 'process' : 'auto';
    const serve = plainServe(ctx.server);
    const outcome = await session(ctx, { path, mode, ...serve });
    const shown = { path, bytes: Buffer.byteLength(path) };
    requireReady(outcome, path, shown);
    const evidence = { ...sides(outcome), details: shown };
    requireSession(outcome, evidence);
    const withPath = `with the ${shown.bytes}-byte path ${JSON.stringify(path)}`;
    expectExitZero(outcome.client, `${withPath} the client`, evidence);
    expectBytes(outcome.stdout, serve.expected, `${withPath} the client's stdout differs from what the server was given`, evidence);
  },
};
