/**
 * `run --dry-run`: the units a run would run, with their count, planned from what is declared alone
 * (run.ts dryRunPlan), and `--exclude-pairing`'s SERVER×CLIENT. Nothing here starts a process. What a
 * dry run cannot know is said per unit and counted: a driver unit's applicability rests on its drivers'
 * `hello` answers (socket types, address kinds, features), which only a run asks for.
 */
import { ADDRESS_KINDS, NO_PEER, SOCKET_TYPES } from '../model/types.js';
import { wrap } from '../report/layout.js';
import { globToRegExp, type PairingPattern, type Unit } from './plan.js';
import type { Shard } from './shard.js';

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** What a dry run counts: units that apply as declared, those ruled out already, those hello settles. */
export function dryRunCounts(units: readonly Unit[]): { applicable: number; unsupported: number; awaitingHello: number } {
  const unsupported = units.filter((u) => u.unsupported !== undefined).length;
  const awaitingHello = units.filter((u) => u.unsupported === undefined && u.awaitsHello !== undefined).length;
  return { applicable: units.length - unsupported - awaitingHello, unsupported, awaitingHello };
}

/**
 * The plan as text within `width` columns: a count line and what it leaves open, then per socket type ×
 * address kind (the reports' groups, in their order) one line per unit: property, pairing, and why it
 * does not apply, or that its drivers' hello decides whether it does.
 */
export function renderDryRun(units: readonly Unit[], planned: number, options: { width: number; shard?: Shard }): string {
  const { width } = options;
  const counts = dryRunCounts(units);
  const lines: string[] = [];
  const of = options.shard ? ` (shard ${options.shard.index}/${options.shard.count}: ${units.length} of ${planned} planned)` : '';
  lines.push(...wrap(`dry run: ${plural(units.length, 'unit')} (property × pairing × socket type × address)${of}; no process was started.`, width, '', '  '));
  lines.push(
    ...wrap(
      `${counts.applicable} apply as declared, ${counts.unsupported} are unsupported as declared (n/a), and for ${counts.awaitingHello} ("hello decides") the drivers' hello answers (socket types, address kinds, features), asked when the run starts, settle whether they apply.`,
      width,
      '  ',
      '  ',
    ),
  );
  const rank = (u: Unit): number => SOCKET_TYPES.indexOf(u.socketType) * ADDRESS_KINDS.length + ADDRESS_KINDS.indexOf(u.address);
  const groups = new Map<number, Unit[]>();
  for (const u of units) {
    if (!groups.has(rank(u))) groups.set(rank(u), []);
    groups.get(rank(u))!.push(u);
  }
  for (const [, group] of [...groups.entries()].sort((a, b) => a[0] - b[0])) {
    lines.push('', `${group[0]!.socketType} · ${group[0]!.address} (${plural(group.length, 'unit')})`);
    const idWidth = Math.min(28, Math.max(...group.map((u) => u.property.id.length)));
    for (const u of group) {
      const pairing = `${u.server?.name ?? NO_PEER} × ${u.client?.name ?? NO_PEER}`;
      const note = u.unsupported !== undefined ? `  n/a: ${u.unsupported}` : u.awaitsHello ? '  (hello decides)' : '';
      lines.push(...wrap(`${u.property.id.padEnd(idWidth)}  ${pairing}${note}`, width, '  ', '      '));
    }
  }
  return lines.join('\n');
}

/**
 * Parses `--exclude-pairing SERVER×CLIENT` (`x` accepted for `×`): each side a name or glob that
 * matches a known implementation, or `-` for a single-role property's absent side. With `x`, a name
 * that holds an x is split where both sides match something; a split that is ambiguous is refused.
 * Returns an error message instead of throwing, for the CLI to word.
 */
export function parsePairingPattern(text: string, names: readonly string[]): PairingPattern | string {
  const known = [...names, NO_PEER];
  const matches = (side: string): boolean => side !== '' && known.some((n) => globToRegExp(side).test(n));
  const usage = `--exclude-pairing must look like SERVER×CLIENT (or SERVERxCLIENT): names or globs of implementations (${names.join(', ')}) or - for an absent side, got ${JSON.stringify(text)}`;
  const at = text.indexOf('×');
  if (at >= 0) {
    const server = text.slice(0, at).trim();
    const client = text.slice(at + 1).trim();
    if (!server || !client) return usage;
    for (const side of [server, client]) if (!matches(side)) return `--exclude-pairing ${text}: ${JSON.stringify(side)} matches no implementation (known: ${names.join(', ')}, or -)`;
    return { server, client };
  }
  const splits: PairingPattern[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== 'x') continue;
    const server = text.slice(0, i).trim();
    const client = text.slice(i + 1).trim();
    if (matches(server) && matches(client)) splits.push({ server, client });
  }
  if (splits.length === 1) return splits[0]!;
  if (splits.length > 1) return `--exclude-pairing ${text}: ambiguous (${splits.map((s) => `${s.server}×${s.client}`).join(' or ')}); write × between the two`;
  return usage;
}
