/**
 * Issue 11: whatever a subject does, nothing of it outlives its case and no case outlives its deadline
 * (docs/architecture.md, Containment). Each attack is a small Python client written here, with its own
 * marker on the argv of every process it makes; after each run no process carrying the marker may be
 * alive, nothing of the run may be left (case dirs, sockets, cgroups), and the run must have ended
 * within the case deadline plus MARGIN_MS.
 *
 * Each attack runs twice: in this process through runSuite (with a cgroup per process where the
 * machine allows it, as here and in CI as root), and in a child process on dist/ with UDSC_NO_CGROUP=1,
 * contained by ancestry only (the launcher as child subreaper).
 *
 * Without the change each fails: the process group kill left the setsid, setpgid and launcher-group
 * processes alive; the inherited-stdout and never-exiting variants waited for EOF or exit without a
 * limit (the run did not end); a SIGSTOPped launcher hung the run; a SIGKILLed CLI left its processes.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sweepStaleCaseDirs } from '../suite/harness/casedir.js';
import { whyNoCgroups } from '../suite/harness/cgroup.js';
import { LAUNCHER_PATH, launcherPid } from '../suite/harness/launcher.js';
import { C_BIN, DIST } from '../suite/harness/paths.js';
import { liveProcessCount } from '../suite/harness/process.js';
import type { Implementation, ResultEntry } from '../suite/model/types.js';
import { cReference } from '../suite/registry.js';
import { runSuite } from '../suite/run.js';
import { leftoversOf, nothingLeft } from './support/leftovers.js';

/** What a run may take past its case deadline: planning, the launcher, the kill and the reports. */
const MARGIN_MS = 4_000;
const DEADLINE_MS = 4_000;
const REFERENCE_CLIENT = join(C_BIN, 'reference-client');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(os.tmpdir(), 'containment-'));
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  expect(liveProcessCount()).toBe(0);
  expect(leftoversOf(process.pid)).toEqual({ dirs: [], sockets: [], processes: [] });
});

/**
 * The attacks' shared part. `sleeper()` becomes a process that ignores SIGTERM and SIGHUP and never
 * exits, with the marker on its argv; `serve()` becomes the reference client, so that the case can pass.
 */
const PRELUDE = `
import os, signal, sys, time
path, marker, ref = sys.argv[1], sys.argv[2], sys.argv[3]
FOREVER = "import signal, time\\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\\nwhile True: time.sleep(60)"
def sleeper(close_stdio=False):
    if close_stdio:
        os.closerange(0, 3)
    os.execvp("python3", ["python3", "-c", FOREVER, marker])
def serve():
    os.execv(ref, [ref, path])
`;

interface Attack {
  name: string;
  script: string;
  /** The case cannot end before its deadline (the subject never exits). */
  hangs: boolean;
}

const ATTACKS: Attack[] = [
  {
    name: 'double-forks with setsid, stdio closed',
    hangs: false,
    script: `
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper(close_stdio=True)
    os._exit(0)
os.wait()
serve()
`,
  },
  {
    name: 'double-forks with setsid, stdio inherited',
    hangs: false,
    script: `
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper()
    os._exit(0)
os.wait()
serve()
`,
  },
  {
    name: 'forks a child that calls setpgid(0, 0)',
    hangs: false,
    script: `
if os.fork() == 0:
    os.setpgid(0, 0)
    sleeper()
serve()
`,
  },
  {
    name: "joins the launcher's process group, forks and exits",
    hangs: false,
    script: `
os.setpgid(0, os.getpgid(os.getppid()))
if os.fork() == 0:
    sleeper()
serve()
`,
  },
  {
    name: "joins the launcher's process group, forks and never exits",
    hangs: true,
    script: `
os.setpgid(0, os.getpgid(os.getppid()))
if os.fork() == 0:
    sleeper()
sleeper()
`,
  },
  {
    name: 'ignores SIGTERM and SIGHUP, forks and never exits',
    hangs: true,
    script: `
signal.signal(signal.SIGTERM, signal.SIG_IGN)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
if os.fork() == 0:
    sleeper()
sleeper()
`,
  },
];

function newMarker(): string {
  return `udsc-mark-${randomBytes(6).toString('hex')}`;
}

function attackClient(name: string, script: string, marker: string): Implementation {
  const file = join(work, `${marker}.py`);
  writeFileSync(file, PRELUDE + script);
  return {
    name,
    kind: 'command',
    description: `containment attack: ${name}`,
    client: { command: { command: ['python3', file, '{path}', marker, REFERENCE_CLIENT] } },
    expectations: {},
  };
}

/** Pids of live processes with the marker on their argv or in their environment. */
function carrying(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    for (const file of ['cmdline', 'environ']) {
      try {
        if (readFileSync(`/proc/${entry}/${file}`, 'latin1').includes(marker)) {
          found.push(Number(entry));
          break;
        }
      } catch {
        // gone, or not ours to read
      }
    }
  }
  return found;
}

/** Waits (at most withinMs) until fn() is true: SIGKILL is delivered at once, but exit takes a moment. */
async function eventually(fn: () => boolean, withinMs: number): Promise<boolean> {
  const until = performance.now() + withinMs;
  while (!fn()) {
    if (performance.now() > until) return false;
    // Not a delay for synchronisation: the next look at /proc (no event announces another's exit).
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

/** Process cgroups (l<n>-<id>) of the harness with this pid that are still there. */
function processCgroupsOf(pid: number): string[] {
  const base = cgroupBase();
  if (!base) return [];
  const run = join(base, `udsc-${pid}`);
  if (!existsSync(run)) return [];
  return readdirSync(run).filter((name) => /^l\d+-\d+$/.test(name));
}

function cgroupBase(): string | undefined {
  const own = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => l.startsWith('0::'))?.slice(3);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [left, right] = line.split(' - ');
    if (own === undefined || !left || right?.split(' ')[0] !== 'cgroup2') continue;
    const fields = left.split(' ');
    if (fields[3] === '/') return join(fields[4]!, own);
  }
  return undefined;
}

function expectContained(results: ResultEntry[], attack: Attack, elapsedMs: number): void {
  expect(results).toHaveLength(1);
  expect(elapsedMs).toBeLessThan(DEADLINE_MS + MARGIN_MS);
  if (attack.hangs) {
    expect(results[0]!.status).toBe('fail');
    expect(JSON.stringify(results[0]!.evidence)).toContain('"timedOut":true');
  }
}

const suiteRun = (client: Implementation, deadlineMs = DEADLINE_MS) =>
  runSuite({
    implementations: [cReference, client],
    servers: ['c-reference'],
    clients: [client.name],
    propertyPatterns: ['delivery.default-message'],
    runs: 1,
    seed: 1,
    jobs: 1,
    shrink: false,
    caseDeadlineMs: deadlineMs,
  });

describe.runIf(existsSync(LAUNCHER_PATH))('containment, in this process', () => {
  it('says whether this machine gives a cgroup per process', () => {
    // Informational: the attacks below must be contained either way.
    const reason = whyNoCgroups();
    if (reason) console.warn(`containment test without cgroups: ${reason}`);
    expect(reason === undefined || reason.length > 0).toBe(true);
  });

  for (const attack of ATTACKS) {
    it(`a client that ${attack.name}`, async () => {
      const marker = newMarker();
      const started = performance.now();
      const report = await suiteRun(attackClient(`attack-${marker}`, attack.script, marker));
      expect(await eventually(() => carrying(marker).length === 0, 2_000), `alive: ${carrying(marker).join(', ')}`).toBe(true);
      expectContained(report.results, attack, performance.now() - started);
      expect(await eventually(() => processCgroupsOf(process.pid).length === 0, 2_000), processCgroupsOf(process.pid).join(', ')).toBe(true);
    }, 30_000);
  }

  it('a client that SIGSTOPs the launcher: its case fails with that reason, the tree is killed and the run goes on', async () => {
    const marker = newMarker();
    const pidFile = join(work, `${marker}.launcher`);
    const stopper = attackClient(`stopper-${marker}`, `open(${JSON.stringify(pidFile)}, "w").write(str(os.getppid()))\nos.kill(os.getppid(), signal.SIGSTOP)\nsleeper()\n`, marker);
    const started = performance.now();
    const report = await runSuite({
      implementations: [cReference, stopper],
      servers: ['c-reference'],
      clients: [stopper.name, 'c-reference'],
      propertyPatterns: ['delivery.default-message'],
      runs: 1,
      seed: 1,
      jobs: 1,
      shrink: false,
      caseDeadlineMs: 10_000,
    });
    const elapsed = performance.now() - started;
    expect(await eventually(() => carrying(marker).length === 0, 2_000), `alive: ${carrying(marker).join(', ')}`).toBe(true);
    const stopped = Number(readFileSync(pidFile, 'utf8'));
    expect(await eventually(() => !existsSync(`/proc/${stopped}`), 2_000), `the stopped launcher ${stopped} is alive`).toBe(true);
    expect(launcherPid()).not.toBe(stopped);
    const byClient = new Map(report.results.map((r) => [r.client, r]));
    expect(byClient.get(stopper.name)?.status).toBe('fail');
    expect(JSON.stringify(byClient.get(stopper.name)?.evidence)).toContain('the process launcher stopped answering');
    // The run went on with a new launcher: the next case passed.
    expect(byClient.get('c-reference')?.status).toBe('pass');
    // Well before the 10 s deadline: the watchdog, not the deadline, ended the case.
    expect(elapsed).toBeLessThan(10_000);
  }, 30_000);
});

/**
 * The same attacks without cgroups, in a child process on dist/ (the probe is per process): one
 * script runs runSuite and prints the results as JSON.
 */
describe.runIf(existsSync(LAUNCHER_PATH) && existsSync(join(DIST, 'suite', 'run.js')))('containment by ancestry only (UDSC_NO_CGROUP=1)', () => {
  const runner = (client: Implementation): string => `
import { runSuite } from ${JSON.stringify(join(DIST, 'suite', 'run.js'))};
import { cReference } from ${JSON.stringify(join(DIST, 'suite', 'registry.js'))};
const client = ${JSON.stringify(client)};
const report = await runSuite({ implementations: [cReference, client], servers: ['c-reference'], clients: [client.name],
  propertyPatterns: ['delivery.default-message'], runs: 1, seed: 1, jobs: 1, shrink: false, caseDeadlineMs: ${DEADLINE_MS} });
process.stdout.write(JSON.stringify(report.results));
`;

  for (const attack of ATTACKS) {
    it(`a client that ${attack.name}`, async () => {
      const marker = newMarker();
      const file = join(work, `${marker}.mjs`);
      writeFileSync(file, runner(attackClient(`attack-${marker}`, attack.script, marker)));
      const started = performance.now();
      const child = spawn(process.execPath, [file], { env: { ...process.env, UDSC_NO_CGROUP: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.stderr.on('data', (c: Buffer) => (err += c));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      const elapsed = performance.now() - started;
      expect(code, err).toBe(0);
      expect(await eventually(() => carrying(marker).length === 0, 2_000), `alive: ${carrying(marker).join(', ')}`).toBe(true);
      expectContained(JSON.parse(out) as ResultEntry[], attack, elapsed);
      expect(nothingLeft(leftoversOf(child.pid!)), JSON.stringify(leftoversOf(child.pid!))).toBe(true);
    }, 30_000);
  }
});

/** Runs the CLI on a manifest, SIGKILLs it once `alive` processes carry the marker, and checks none is left. */
async function killCliMidRun(manifest: object, marker: string, alive: number): Promise<void> {
  const file = join(work, `${marker}.json`);
  writeFileSync(file, JSON.stringify(manifest));
  const out = join(work, `${marker}-out`);
  const args = ['run', '--subject', file, '--subjects-only', '--server', 'c-reference', '--property', 'delivery.default-message', '--runs', '1', '--seed', '1', '--jobs', '1', '--deadline', '60000', '--no-shrink', '--out', out];
  const cli = spawn(process.execPath, [join(DIST, 'suite', 'cli.js'), ...args], { stdio: 'ignore' });
  const exited = new Promise((r) => cli.on('exit', r));
  try {
    expect(await eventually(() => carrying(marker).length >= alive, 20_000), `carrying: ${carrying(marker).length}`).toBe(true);
    expect(carrying(`udsc-${cli.pid}-launcher`)).toHaveLength(1);
  } finally {
    cli.kill('SIGKILL');
    await exited;
  }
  expect(await eventually(() => carrying(marker).length === 0, 5_000), `alive: ${carrying(marker).join(', ')}`).toBe(true);
  // The launcher has killed its tree and exits (it saw EOF on the CLI's connection, or its PR_SET_PDEATHSIG).
  expect(await eventually(() => carrying(`udsc-${cli.pid}-launcher`).length === 0, 5_000)).toBe(true);
  expect(leftoversOf(cli.pid!).processes).toEqual([]);
  // What it left (its case dirs, its launcher's socket dir) is the next run's sweep's: each has an
  // owner file naming the CLI, which is gone.
  sweepStaleCaseDirs();
  expect(readdirSync(os.tmpdir()).filter((n) => n.startsWith(`udsc-${cli.pid}-`))).toEqual([]);
}

describe.runIf(existsSync(LAUNCHER_PATH))('a launcher whose harness dies before connecting', () => {
  it("exits: it waits for the connection and for the harness's death at once, not in accept(2) alone", async () => {
    // A stand-in harness: starts the launcher as the harness does (socket path, its own pid), reads
    // its "R", and exits without connecting.
    const sock = join(work, `l-${newMarker()}`);
    const harness = join(work, `harness-${newMarker()}.mjs`);
    writeFileSync(
      harness,
      `import { spawn } from 'node:child_process';
const l = spawn(${JSON.stringify(LAUNCHER_PATH)}, [${JSON.stringify(sock)}, String(process.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
l.stdout.once('data', () => { process.stdout.write(String(l.pid)); process.exit(0); });
`,
    );
    const child = spawn(process.execPath, [harness], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    await new Promise((r) => child.on('close', r));
    const pid = Number(out);
    expect(pid).toBeGreaterThan(0);
    const ended = (): boolean => {
      try {
        // Gone, or a zombie of whoever it was re-parented to: it has exited either way.
        return /^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
      } catch {
        return true;
      }
    };
    const exited = await eventually(ended, 5_000);
    if (!exited) process.kill(pid, 'SIGKILL');
    expect(exited).toBe(true);
    expect(existsSync(sock)).toBe(false);
  });
});

describe.runIf(existsSync(LAUNCHER_PATH) && existsSync(join(DIST, 'suite', 'cli.js')))('the CLI SIGKILLed mid-run', () => {
  it('leaves no process of a case: not the launcher, not a client that escaped its group', async () => {
    const marker = newMarker();
    const client = join(work, `${marker}-client.py`);
    writeFileSync(client, `${PRELUDE}
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        sleeper(close_stdio=True)
    os._exit(0)
os.wait()
sleeper()
`);
    // The client's leader and its escaped grandchild.
    await killCliMidRun({ name: `killed-${marker}`, description: 'containment: the CLI SIGKILLed mid-case', client: { command: ['python3', client, '{path}', marker, REFERENCE_CLIENT] }, expectations: {} }, marker, 2);
  }, 60_000);

  it('leaves no driver: one that has not answered hello yet, nor what it started in a session of its own', async () => {
    const marker = newMarker();
    const driver = join(work, `${marker}-driver.py`);
    writeFileSync(driver, `import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    os.execvp("python3", ["python3", "-c", "import time\\nwhile True: time.sleep(60)", sys.argv[1]])\nwhile True: time.sleep(60)\n`);
    await killCliMidRun({ name: `killed-${marker}`, description: 'containment: the CLI SIGKILLed during hello', driver: { command: ['python3', driver, marker] }, expectations: {} }, marker, 2);
  }, 60_000);
});
