/** Runs the built CLI (dist/) as a user would, with CI=true, and checks that nothing is left behind. */
import { execa } from 'execa';
import { expect } from 'vitest';
import { distPath } from '../../suite/harness/paths.js';
import { leftoversOf } from './leftovers.js';

export const CLI = distPath('suite/cli.js');

export async function cli(args: string[], options: { cwd?: string; timeout?: number } = {}) {
  const child = execa(process.execPath, [CLI, ...args], { reject: false, cwd: options.cwd, timeout: options.timeout ?? 110_000, env: { CI: 'true' } });
  const result = await child;
  expect(leftoversOf(child.pid!)).toEqual({ dirs: [], sockets: [], processes: [] });
  return { ...result, pid: child.pid! };
}
