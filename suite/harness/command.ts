/**
 * Command templates made concrete, in one place: the argv with its placeholders expanded, the working
 * directory (the template's, else the case dir), the environment (the harness's own, the run's extra
 * variables, then the template's) and stdin. Seed-protocol roles and process drivers both start
 * through `prepareCommand`, so a rule here (the cwd default, the environment) holds for every subject.
 */
import type { CommandTemplate } from '../model/types.js';

/** Placeholder values: {path}, {payload}, {dir}; an unknown placeholder stays as written. */
export type CommandVars = Partial<Record<'path' | 'payload' | 'dir', string>>;

export interface PreparedCommand {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  /** A file for stdin, or undefined for /dev/null. */
  stdinFile?: string;
}

export interface PrepareOptions {
  /** The case dir: the default cwd and the value of {dir}. */
  dir: string;
  vars?: CommandVars;
  /** Run-wide variables (e.g. NODE_V8_COVERAGE under --coverage), below the template's own. */
  extraEnv?: Record<string, string>;
}

export function prepareCommand(template: CommandTemplate, options: PrepareOptions): PreparedCommand {
  const vars: CommandVars = { dir: options.dir, ...options.vars };
  return {
    argv: expand(template, vars),
    cwd: template.cwd ?? options.dir,
    env: commandEnv(template, vars, options.extraEnv),
    stdinFile: template.stdin !== undefined ? expandOne(template.stdin, vars) : undefined,
  };
}

/** Expands {path}, {payload} and {dir}; an argument that is exactly "{payload}" is dropped when there is no payload. */
export function expand(template: CommandTemplate, vars: CommandVars): string[] {
  const out: string[] = [];
  for (const arg of template.command) {
    if (arg === '{payload}' && vars.payload === undefined) continue;
    out.push(expandOne(arg, vars));
  }
  return out;
}

export function expandOne(text: string, vars: CommandVars): string {
  return text.replace(/\{(path|payload|dir)\}/g, (whole, name: keyof CommandVars) => vars[name] ?? whole);
}

/** Whether the payload is part of a larger argument or of stdin, so it cannot simply be left out. */
export function embedsPayload(template: CommandTemplate): boolean {
  return (template.stdin ?? '').includes('{payload}') || template.command.some((a) => a !== '{payload}' && a.includes('{payload}'));
}

/** A subject's environment: the harness's own (PATH and friends), the run's extras, then the template's, expanded. */
function commandEnv(template: CommandTemplate, vars: CommandVars, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // The built-in TypeScript implementations run as `<this node> dist/...` and make no TLS connection,
  // but NODE_EXTRA_CA_CERTS (set on this machine) makes every Node start parse the CA bundle: 40 to
  // 55 ms per start on an idle machine, about 100 ms under load (docs/benchmark.md). A template that
  // sets the variable itself still gets it.
  if (template.command[0] === process.execPath) delete env.NODE_EXTRA_CA_CERTS;
  Object.assign(env, extra);
  for (const [k, v] of Object.entries(template.env ?? {})) env[k] = expandOne(v, vars);
  return env;
}
