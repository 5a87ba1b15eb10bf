/**
 * What a run may leave behind, found without guessing: temp dirs and socket files named for a given
 * harness pid, and processes whose cwd is (or was) inside one of that harness's case dirs. Every
 * subject process runs with its cwd in its case dir, so a survivor shows up here even after the dir
 * itself is gone ("... (deleted)").
 */
import { readdirSync, readlinkSync, lstatSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export interface Leftovers {
  dirs: string[];
  sockets: string[];
  processes: Array<{ pid: number; cwd: string; cmdline: string }>;
}

export function leftoversOf(harnessPid: number): Leftovers {
  const tmp = os.tmpdir();
  const marker = `udsc-${harnessPid}-`;
  const dirs: string[] = [];
  const sockets: string[] = [];
  for (const name of readdirSync(tmp)) {
    const full = join(tmp, name);
    let st;
    try {
      st = lstatSync(full);
    } catch {
      continue;
    }
    if (name.startsWith(marker) && st.isDirectory()) dirs.push(full);
    // A truncating server (the seed's) binds a prefix of the case dir's path: /tmp/udsc-<pid>...
    if (st.isSocket() && name.startsWith('udsc-') && `${marker}`.startsWith(name)) sockets.push(full);
  }
  const processes: Leftovers['processes'] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd.includes(join(tmp, marker))) {
        const cmdline = readlinkSync(`/proc/${entry}/exe`);
        processes.push({ pid: Number(entry), cwd, cmdline });
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return { dirs, sockets, processes };
}

export function nothingLeft(l: Leftovers): boolean {
  return l.dirs.length === 0 && l.sockets.length === 0 && l.processes.length === 0;
}
