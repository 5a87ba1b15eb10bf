/**
 * Start-up CPU: `uds-conformance --help`, `--version` and `list` against `node -e 0`, as the CPU the
 * kernel accounts to each reaped child (user + system, wait4's rusage through c-reference/bin/
 * bench-rusage; Node reports its own rusage, not a child's). The commands alternate round by round, so
 * a change in the machine's load reaches all of them; each figure is the median of the rounds.
 *
 * Every command runs with the same environment, the bench's without NODE_EXTRA_CA_CERTS: with it,
 * every Node start parses the CA bundle (about 35 ms of CPU here), which would pad the baseline and
 * flatter the ratio. A command that exits 2 (an unknown option, e.g. --version before it exists) is
 * reported as missing, not measured.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { C_BIN, distPath } from '../suite/harness/paths.js';
import { join } from 'node:path';

const run = promisify(execFile);

export interface RusageSample {
  userMs: number;
  sysMs: number;
  wallMs: number;
  exitCode: number;
}

export interface StartupCommand {
  name: string;
  argv: string[];
  /** False when the command exits 2 (not implemented yet): then no figure. */
  exists: boolean;
  exitCode: number;
  samples: number;
  /** Medians of user + system CPU and of wall time, ms. */
  cpuMs: number;
  wallMs: number;
  /** cpuMs / the baseline's cpuMs (null for the baseline and for a missing command). */
  ratio: number | null;
}

export interface StartupFigure {
  rounds: number;
  /** Whether NODE_EXTRA_CA_CERTS was set in the bench's environment (it is removed for every command). */
  extraCaCertsRemoved: boolean;
  baseline: StartupCommand;
  commands: StartupCommand[];
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function rusage(argv: string[], env: NodeJS.ProcessEnv): Promise<RusageSample> {
  const { stdout } = await run(join(C_BIN, 'bench-rusage'), argv, { env, timeout: 60_000, maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as RusageSample;
}

export async function measureStartup(options: { rounds: number; log: (line: string) => void }): Promise<StartupFigure> {
  const cli = distPath('suite/cli.js');
  const specs: Array<{ name: string; argv: string[] }> = [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
    { name: 'uds-conformance --help', argv: [process.execPath, cli, '--help'] },
    { name: 'uds-conformance --version', argv: [process.execPath, cli, '--version'] },
    { name: 'uds-conformance list', argv: [process.execPath, cli, 'list'] },
  ];
  const env = { ...process.env };
  const extraCaCertsRemoved = env.NODE_EXTRA_CA_CERTS !== undefined;
  delete env.NODE_EXTRA_CA_CERTS;
  const samples = specs.map(() => [] as RusageSample[]);
  // One unmeasured round first: the page cache and the disk, not start-up, would be measured otherwise.
  for (const spec of specs) await rusage(spec.argv, env);
  for (let round = 0; round < options.rounds; round++) {
    for (const [i, spec] of specs.entries()) samples[i]!.push(await rusage(spec.argv, env));
  }
  const figures = specs.map((spec, i): StartupCommand => {
    const list = samples[i]!;
    const exitCode = list[list.length - 1]!.exitCode;
    return {
      ...spec,
      exists: exitCode !== 2,
      exitCode,
      samples: list.length,
      cpuMs: median(list.map((s) => s.userMs + s.sysMs)),
      wallMs: median(list.map((s) => s.wallMs)),
      ratio: null,
    };
  });
  const [baseline, ...commands] = figures as [StartupCommand, ...StartupCommand[]];
  for (const c of commands) c.ratio = c.exists ? c.cpuMs / baseline.cpuMs : null;
  options.log(`  ${baseline.name}: ${baseline.cpuMs.toFixed(1)} ms CPU; ${commands.map((c) => `${c.name}: ${c.exists ? `${c.cpuMs.toFixed(1)} ms (${c.ratio!.toFixed(2)}×)` : `missing (exit ${c.exitCode})`}`).join('; ')}`);
  return { rounds: options.rounds, extraCaCertsRemoved, baseline, commands };
}
