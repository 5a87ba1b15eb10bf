/** Where the project's built artefacts live, found from this module's own location (src or dist). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || dir.endsWith('/dist')) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('uds-conformance: cannot find the package root');
    dir = parent;
  }
  return dir;
}

export const PROJECT_ROOT = findRoot();
export const C_BIN = join(PROJECT_ROOT, 'c-reference', 'bin');
export const DIST = join(PROJECT_ROOT, 'dist');
/** The compiled JavaScript of a TypeScript fixture, e.g. distPath('fixtures/ts-net/cli.js'). */
export const distPath = (relative: string): string => join(DIST, relative);
