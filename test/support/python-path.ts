/**
 * Puts the python3 interpreter's own directory first on this test process's PATH, as `pyenv exec`
 * does before it runs the interpreter. Where python3 is a pyenv shim (a bash script that starts
 * `pyenv exec`, and more bash under it, before the interpreter), a run over a Python subject pays that
 * on every one of its hundreds of starts: python3.json's run took 184 s through the shim and 37 s with
 * the interpreter first on PATH, at the same load. A manifest's "python3" is the same interpreter
 * either way; only the shim is skipped. Without python3, or without a shim, nothing changes.
 */
import { execaSync } from 'execa';
import { dirname } from 'node:path';

export function pythonFirstOnPath(): void {
  const r = execaSync('python3', ['-c', 'import sys; print(sys.executable)'], { reject: false });
  const executable = typeof r.stdout === 'string' ? r.stdout.trim() : '';
  if (r.exitCode !== 0 || !executable.startsWith('/')) return;
  const dir = dirname(executable);
  const path = process.env.PATH ?? '';
  if (path.split(':')[0] !== dir) process.env.PATH = `${dir}:${path}`;
}
