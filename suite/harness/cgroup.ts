/**
 * cgroup v2 containment (docs/architecture.md, Containment): one cgroup per harness process
 * (`udsc-<pid>`, beside the cgroup the harness runs in), one inside it for each launcher (`l<n>`) and
 * one for each process the launcher starts (`l<n>-<id>`), which the process joins before exec. Ending
 * a cgroup (`cgroup.kill`, Linux >= 5.14) kills every process in it, whatever it did with its group,
 * its session or its parent.
 *
 * It needs a cgroup2 mount where the harness's cgroup is writable (root, or a delegated subtree) and a
 * kernel with cgroup.kill. The probe is real, not guessed: make the run's cgroup, and move the first
 * launcher into a cgroup of its own (launcher.ts); if any step fails, the run says so once on stderr
 * and is contained by ancestry only (the launcher as child subreaper). UDSC_NO_CGROUP=1 switches it off.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface RunCgroup {
  /** The run's cgroup dir (udsc-<pid>). */
  dir: string;
  /** The cgroup the harness runs in, where a launcher moves itself back before it exits. */
  base: string;
}

let probed: { run?: RunCgroup; reason?: string } | undefined;
let noted = false;

/** The harness's cgroup v2 dir: its cgroup2 mount joined with its "0::" path, or why there is none. */
function ownCgroupDir(): { dir?: string; reason?: string } {
  let path: string | undefined;
  try {
    path = readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3);
  } catch {
    // no /proc/self/cgroup: no cgroups at all
  }
  if (path === undefined) return { reason: 'no cgroup v2 hierarchy (/proc/self/cgroup has no "0::" line)' };
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right || right.split(' ')[0] !== 'cgroup2') continue;
    const fields = left.split(' ');
    const root = fields[3]!;
    const mount = fields[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (path === root || path.startsWith(root === '/' ? '/' : `${root}/`)) {
      return { dir: join(mount, path.slice(root === '/' ? 0 : root.length)).replace(/(?<=.)\/+$/, '') };
    }
  }
  return { reason: 'no cgroup2 filesystem mounted where this process\'s cgroup is' };
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message;
}

/** The run's cgroup, made on first use; undefined where the machine does not allow it (see why()). */
export function runCgroup(): RunCgroup | undefined {
  if (probed) return probed.run;
  probed = probe();
  return probed.run;
}

function probe(): { run?: RunCgroup; reason?: string } {
  if (process.env.UDSC_NO_CGROUP === '1') return { reason: 'cgroups switched off (UDSC_NO_CGROUP=1)' };
  const own = ownCgroupDir();
  if (!own.dir) return { reason: own.reason };
  sweepDeadRuns(own.dir);
  const dir = join(own.dir, `udsc-${process.pid}`);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return { reason: `cannot make a cgroup in ${own.dir} (${errorText(err)}: not root, and not a delegated subtree)` };
  }
  if (!existsSync(join(dir, 'cgroup.kill'))) {
    tryRmdir(dir);
    return { reason: 'this kernel has no cgroup.kill (Linux < 5.14)' };
  }
  return { run: { dir, base: own.dir } };
}

/** The probe's last step failed (a process could not be moved): no cgroups for the rest of the run. */
export function disableCgroups(reason: string): void {
  const run = probed?.run;
  probed = { reason };
  if (run) tryRmdir(run.dir);
}

/** Why there are no cgroups (undefined while they work). */
export function whyNoCgroups(): string | undefined {
  runCgroup();
  return probed?.reason;
}

/** Says once per process, on stderr, that containment falls back to ancestry, and why. */
export function noteContainmentOnce(): void {
  const reason = whyNoCgroups();
  if (noted || reason === undefined || process.env.UDSC_NO_CGROUP === '1') return;
  noted = true;
  process.stderr.write(`uds-conformance: ${reason}; subject processes are contained by ancestry only (the launcher as child subreaper): see docs/architecture.md, Containment\n`);
}

/** Moves pid into the cgroup dir (made if needed). False (and the dir removed) if that is not allowed. */
export function moveInto(dir: string, pid: number): { ok: true } | { ok: false; reason: string } {
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'cgroup.procs'), String(pid));
    return { ok: true };
  } catch (err) {
    tryRmdir(dir);
    return { ok: false, reason: `cannot move a process into a cgroup (${errorText(err)})` };
  }
}

/** Kills every process in the cgroup (a missing cgroup has none). */
export function killCgroup(dir: string): void {
  try {
    writeFileSync(join(dir, 'cgroup.kill'), '1');
  } catch {
    // gone already, or never made
  }
}

function tryRmdir(dir: string): boolean {
  try {
    rmdirSync(dir);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Removes an ended cgroup once its last process is gone: rmdir fails with EBUSY until then, and
 * cgroup.events changes ("populated 0") when it happens, which is what this waits for (at most
 * withinMs). Never rejects.
 */
export function removeCgroup(dir: string, withinMs = 5_000): Promise<void> {
  if (tryRmdir(dir)) return Promise.resolve();
  return new Promise((resolve) => {
    let watcher: ReturnType<typeof watch> | undefined;
    const done = (): void => {
      clearTimeout(timer);
      watcher?.close();
      resolve();
    };
    const timer = setTimeout(done, withinMs);
    timer.unref();
    try {
      watcher = watch(join(dir, 'cgroup.events'), () => {
        if (tryRmdir(dir)) done();
      });
      watcher.unref();
    } catch {
      done();
      return;
    }
    // It may have emptied between the first try and the watch.
    if (tryRmdir(dir)) done();
  });
}

/**
 * Run cgroups of harness processes that are gone (a SIGKILLed CLI): what is left in them is killed and
 * they are removed. Only `udsc-<pid>` dirs whose pid is not alive, beside this harness's own.
 */
function sweepDeadRuns(base: string): void {
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^udsc-(\d+)$/.exec(name);
    if (!m || Number(m[1]) === process.pid || existsSync(`/proc/${m[1]}`)) continue;
    const run = join(base, name);
    let inner: string[] = [];
    try {
      inner = readdirSync(run, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => join(run, e.name));
    } catch {
      continue;
    }
    for (const dir of inner) killCgroup(dir);
    void Promise.all(inner.map((dir) => removeCgroup(dir))).then(() => void tryRmdir(run));
  }
}
