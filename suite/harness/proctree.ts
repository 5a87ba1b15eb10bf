/** A process and its descendants, read from /proc (each thread's children list), with no process spawned. */
import { readdirSync, readFileSync } from 'node:fs';

/** The pids of pid's process tree (pid first); processes that end while it is read are left out. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  const seen = new Set<number>();
  while (stack.length > 0) {
    const p = stack.pop()!;
    if (seen.has(p)) continue;
    seen.add(p);
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // gone
    }
    out.push(p);
    for (const tid of tasks) {
      try {
        for (const child of readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').split(' ')) {
          if (child.trim()) stack.push(Number(child));
        }
      } catch {
        // thread or process gone
      }
    }
  }
  return out;
}
