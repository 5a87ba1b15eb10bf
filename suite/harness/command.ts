/**
 * Command templates made concrete, in one place: the argv with its placeholders expanded, the working
 * directory (the template's, else the case dir), the environment (the harness's own, the run's extra
 * variables, then the template's) and stdin. Seed-protocol roles and process drivers both start
 * through `prepareCommand`, so a rule here (the cwd default, the environment) holds for every subject.
 */
import type { CommandTemplate } from '../model/types.js';

/** Placeholder values: {path}, {payload}, {dir}; any other {word} stays as written (manifests refuse unknown ones). */
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
    stdinFile: template.stdin !== undefined ? expandOne(template.stdin, vars, 'stdin') : undefined,
  };
}

/**
 * Expands {path}, {payload} and {dir} in every argument, dropping none: a template that uses a
 * placeholder without a value is an error of whoever chose the template (a server started without a
 * payload has a template of its own, `commandWithoutPayload`), never an argv quietly edited to fit.
 */
export function expand(template: CommandTemplate, vars: CommandVars): string[] {
  return template.command.map((arg, i) => expandOne(arg, vars, `command[${i}]`));
}

/** Expands one string; `where` names it in the error when a placeholder it uses has no value. */
export function expandOne(text: string, vars: CommandVars, where = 'the template'): string {
  return text.replace(/\{(path|payload|dir)\}/g, (_whole, name: keyof CommandVars) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`${where} uses {${name}}, and this start gives no ${name}: ${JSON.stringify(text)}`);
    return value;
  });
}

/** Whether the template uses {payload} anywhere (an argument or its stdin): it cannot start without one. */
export function takesPayload(template: CommandTemplate): boolean {
  return (template.stdin ?? '').includes('{payload}') || template.command.some((a) => a.includes('{payload}'));
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
  for (const [k, v] of Object.entries(template.env ?? {})) env[k] = expandOne(v, vars, `env.${k}`);
  return env;
}
