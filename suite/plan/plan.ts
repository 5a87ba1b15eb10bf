/**
 * The plan: every unit of a run, and for each, before anything starts, whether it applies and how its
 * roles run. A unit is property × pairing × socket type × address kind (gVisor's TEST_P over socket-pair
 * factories, with the socket type a factory parameter). Applicability comes from what the property
 * needs and what each implementation can do: its seed-protocol roles, and its driver's answer to
 * `hello` (capabilities.ts). Nothing after the plan tests for a socket type or a transport.
 */
import { featuresAt, socketsOf, type Capabilities, type SocketFeature, type Transport } from '../driver/protocol.js';
import { NO_PEER, type AddressKind, type Expectation, type Implementation, type PropertyInfo, type Role, type SocketType } from '../model/types.js';
import type { Property } from '../properties/property.js';

/**
 * What a driver's hello told the plan: its capabilities (those of its preferred transport, as reports
 * show them, and per transport when it has both), or why there are none.
 */
export type DriverAnswer = { capabilities: Capabilities; byTransport?: Partial<Record<Transport, Capabilities>> } | { unsupported: string } | { broken: string };
/** Hello answers by implementation name. */
export type CapabilityMap = ReadonlyMap<string, DriverAnswer>;

export interface PlanInput {
  implementations: Implementation[];
  properties: Property<any>[];
  /** Keep only these server / client names (empty: all). */
  servers?: string[];
  clients?: string[];
  /** Keep only units with one of these implementations in them (--subjects-only). */
  onlyWith?: string[];
  /** Property ids or globs (`delivery.*`); empty: all. */
  propertyPatterns?: string[];
  /** Property ids or globs left out (--exclude), after propertyPatterns. */
  excludePatterns?: string[];
  /** Pairings left out (--exclude-pairing): server and client names or globs, `-` for the absent side. */
  excludePairings?: PairingPattern[];
  /** Every driver that has a command runs as a process (run --coverage sees only processes). */
  forceProcess?: boolean;
  /**
   * Plan without the drivers' hello answers (run --dry-run, which starts no process): a driver unit
   * that nothing else rules out gets `awaitsHello` instead of a decision.
   */
  withoutHello?: boolean;
}

/** A server × client pair of names or globs (`c-original`, `ts-*`, `-` for a single-role property's absent side). */
export interface PairingPattern {
  server: string;
  client: string;
}

/** One property on one pairing, socket type and address kind. */
export interface Unit {
  property: Property<any>;
  server?: Implementation;
  client?: Implementation;
  socketType: SocketType;
  address: AddressKind;
  /** How each side's driver runs, for driver properties. */
  transport?: Partial<Record<Role, Transport>>;
  /** Why the unit does not apply (result `unsupported`), decided here. */
  unsupported?: string;
  /** A driver that fails at once (hello): the unit fails without running, with this message. */
  broken?: string;
  /**
   * Planned withoutHello: the sides ("server c-reference") whose hello answer settles whether the unit
   * applies; nothing known so far rules it out.
   */
  awaitsHello?: string[];
}

export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${escaped}$`);
}

export function selectProperties<P extends { id: string }>(properties: P[], patterns: string[] = []): P[] {
  if (patterns.length === 0) return properties;
  const res = patterns.map(globToRegExp);
  return properties.filter((p) => res.some((re) => re.test(p.id)));
}

/** The properties a run takes: those the patterns select (all without any), less those an exclusion matches. */
export function chosenProperties<P extends { id: string }>(properties: P[], patterns: string[] = [], exclude: string[] = []): P[] {
  const out = exclude.map(globToRegExp);
  return selectProperties(properties, patterns).filter((p) => !out.some((re) => re.test(p.id)));
}

/** Whether a unit's pairing (its names, `-` for an absent side) matches one of the patterns. */
export function pairingExcluded(unit: { server?: { name: string }; client?: { name: string } }, patterns: readonly PairingPattern[] = []): boolean {
  const server = unit.server?.name ?? NO_PEER;
  const client = unit.client?.name ?? NO_PEER;
  return patterns.some((p) => globToRegExp(p.server).test(server) && globToRegExp(p.client).test(client));
}

export const socketTypesOf = (p: { socketTypes?: SocketType[] }): SocketType[] => p.socketTypes ?? ['stream'];
export const addressesOf = (p: { addresses?: AddressKind[] }): AddressKind[] => p.addresses ?? ['pathname'];

/** A property as plain data (what reports and listings carry), its socket types and addresses filled in. */
export function propertyInfo(p: PropertyInfo): PropertyInfo & Required<Pick<PropertyInfo, 'socketTypes' | 'addresses'>> {
  return { id: p.id, level: p.level, category: p.category, scope: p.scope, requirement: p.requirement, reference: p.reference, socketTypes: [...socketTypesOf(p)], addresses: [...addressesOf(p)] };
}

/** Whether an implementation takes part in a property's units in a role (applicable or not). */
function plays(impl: Implementation, role: Role, property: Property<any>): boolean {
  if (impl[role] !== undefined) return true;
  return property.via === 'driver' && impl.driver !== undefined && (impl.driver.roles ?? ['server', 'client']).includes(role);
}

/** The seed protocol is what the seed programs speak: a stream socket at a pathname. */
const SEED_CAPABILITIES = { types: ['stream'] as SocketType[], addresses: ['pathname'] as AddressKind[] };

/** Every unit of the run, in a stable order: by property, socket type, address kind, then pairing. */
export function planUnits(input: PlanInput, capabilities: CapabilityMap = new Map()): Unit[] {
  const pick = (names: string[] | undefined, impl: Implementation): boolean => !names?.length || names.includes(impl.name);
  const units: Unit[] = [];
  for (const property of chosenProperties(input.properties, input.propertyPatterns, input.excludePatterns)) {
    const servers = input.implementations.filter((i) => plays(i, 'server', property) && pick(input.servers, i));
    const clients = input.implementations.filter((i) => plays(i, 'client', property) && pick(input.clients, i));
    const pairings: Array<{ server?: Implementation; client?: Implementation }> = [];
    if (property.scope === 'client') for (const client of clients) pairings.push({ client });
    else if (property.scope === 'server') for (const server of servers) pairings.push({ server });
    else for (const server of servers) for (const client of clients) pairings.push({ server, client });
    for (const socketType of socketTypesOf(property)) {
      for (const address of addressesOf(property)) {
        for (const pairing of pairings) {
          if (pairingExcluded(pairing, input.excludePairings)) continue;
          units.push(decide({ property, ...pairing, socketType, address }, capabilities, input.forceProcess ?? false, input.withoutHello ?? false));
        }
      }
    }
  }
  if (input.onlyWith?.length) {
    const only = new Set(input.onlyWith);
    return units.filter((u) => (u.server && only.has(u.server.name)) || (u.client && only.has(u.client.name)));
  }
  return units;
}

/** Settles one unit's applicability and transports. */
function decide(unit: Unit, capabilities: CapabilityMap, forceProcess: boolean, withoutHello: boolean): Unit {
  const sides = (['server', 'client'] as const).filter((role) => unit[role] !== undefined);
  const problems: string[] = [];
  if (unit.property.via !== 'driver') {
    if (!SEED_CAPABILITIES.types.includes(unit.socketType) || !SEED_CAPABILITIES.addresses.includes(unit.address)) {
      problems.push(`the seed protocol has only stream sockets at pathnames, not ${unit.socketType} at ${unit.address} addresses`);
    }
    if (unit.property.needsPayload && unit.server && !unit.server.server?.payload) problems.push(`server ${unit.server.name} lacks payload`);
    if (unit.property.startsWithoutPayload && unit.server?.server?.payloadRequired) {
      problems.push(`server ${unit.server.name} needs a payload (payloadRequired), and this property starts the server without one: it must send "Server Message\\n"`);
    }
    return problems.length ? { ...unit, unsupported: problems.join('; ') } : unit;
  }
  const transport: Partial<Record<Role, Transport>> = {};
  const awaiting: string[] = [];
  for (const role of sides) {
    const impl = unit[role]!;
    const driver = impl.driver;
    if (!driver || !(driver.roles ?? ['server', 'client']).includes(role)) {
      problems.push(`${role} ${impl.name} has no driver (docs/driver-protocol.md)`);
      continue;
    }
    const answer = capabilities.get(impl.name);
    if (!answer && !withoutHello) throw new Error(`the plan has no hello answer for ${impl.name}'s driver (ask capabilities first)`);
    if (!answer) awaiting.push(`${role} ${impl.name}`);
    else if ('broken' in answer) return { ...unit, broken: `${role} ${impl.name}: ${answer.broken}` };
    else if ('unsupported' in answer) {
      problems.push(`${role} ${impl.name}: ${answer.unsupported}`);
      continue;
    }
    // The transports this unit may use, the preferred first: the adapter unless the property needs a
    // process of its own (or the run sees only processes); the first whose hello covers the unit wins.
    const candidates: Transport[] = [];
    if (driver.inProcess !== undefined && unit.property.isolation !== 'process' && !(forceProcess && driver.command)) candidates.push('in-process');
    if (driver.command) candidates.push('process');
    if (candidates.length === 0) {
      problems.push(`${role} ${impl.name}'s driver runs only in-process, and this property needs a process of its own`);
      continue;
    }
    // Without hello (a dry run): the preferred transport, its cover unknown.
    if (!answer) {
      transport[role] = candidates[0]!;
      continue;
    }
    const missingBy = candidates.map((t) => missingCapabilities(unit, answer.byTransport?.[t] ?? answer.capabilities));
    const fits = missingBy.findIndex((m) => m.length === 0);
    if (fits >= 0) transport[role] = candidates[fits]!;
    else if (new Set(missingBy.map((m) => m.join(' and '))).size === 1) problems.push(`${role} ${impl.name}'s driver ${missingBy[0]!.join(' and ')} (its hello answer${candidates.length > 1 ? ', in-process and as a process' : ''})`);
    else problems.push(`${role} ${impl.name}'s driver ${candidates.map((t, i) => `${missingBy[i]!.join(' and ')} (${t})`).join('; and ')} (its hello answers)`);
  }
  if (problems.length) return { ...unit, unsupported: problems.join('; ') };
  return awaiting.length ? { ...unit, transport, awaitsHello: awaiting } : { ...unit, transport };
}

/**
 * What a side's hello lacks for the unit, each as a phrase ("has no dgram sockets", "lacks passcred on
 * stream sockets at abstract addresses"). The unit's socket type × address kind must be one of its
 * sockets (socketsOf: a v1 hello's types × addresses), with the features the property needs there;
 * the extra socket types it needs must be there at the same address kind.
 */
function missingCapabilities(unit: Unit, caps: Capabilities): string[] {
  const missing: string[] = [];
  const sockets = socketsOf(caps);
  const at = (type: SocketType): string => `${type} sockets at ${unit.address} addresses`;
  const noSocket = (type: SocketType): string =>
    !sockets.some((s) => s.type === type) ? `has no ${type} sockets` : !sockets.some((s) => s.address === unit.address) ? `has no ${unit.address} addresses` : `has no ${at(type)}`;
  const needs = unit.property.needs ?? {};
  const features = featuresAt(caps, unit.socketType, unit.address);
  if (!features) missing.push(noSocket(unit.socketType));
  const wanted = [...new Set<SocketFeature>([...(needs.fds ? (['fds'] as const) : []), ...(needs.features ?? [])])];
  // A feature the driver has nowhere is said plainly; one it has elsewhere, with the socket it lacks it on.
  const nowhere = wanted.filter((f) => !sockets.some((s) => s.features.includes(f)));
  const notHere = features ? wanted.filter((f) => !features.includes(f) && !nowhere.includes(f)) : [];
  if (nowhere.includes('fds')) missing.push('does not pass fds');
  const others = nowhere.filter((f) => f !== 'fds');
  if (others.length) missing.push(`lacks ${others.join(', ')}`);
  if (notHere.length) missing.push(`lacks ${notHere.join(', ')} on ${at(unit.socketType)}`);
  for (const type of new Set(needs.types ?? [])) if (type !== unit.socketType && !featuresAt(caps, type, unit.address)) missing.push(`${noSocket(type)} (needed besides ${unit.socketType})`);
  if (needs.credentials && !caps.credentials) missing.push('does not pass credentials');
  const commands = (needs.commands ?? []).filter((c) => !caps.commands.includes(c));
  if (commands.length) missing.push(`lacks ${commands.join(', ')}`);
  return missing;
}

/** The stream/pathname unit keeps the seed it had before the axis existed; other variants add theirs. */
export function unitKey(unit: Pick<Unit, 'property' | 'server' | 'client' | 'socketType' | 'address'>): string {
  const base = `${unit.property.id}\0${unit.server?.name ?? NO_PEER}\0${unit.client?.name ?? NO_PEER}`;
  return unit.socketType === 'stream' && unit.address === 'pathname' ? base : `${base}\0${unit.socketType}\0${unit.address}`;
}

/** A stable 31-bit seed for one unit, so that any unit can be replayed on its own. */
export function unitSeed(runSeed: number, unit: Pick<Unit, 'property' | 'server' | 'client' | 'socketType' | 'address'>): number {
  let h = 0x811c9dc5 ^ runSeed;
  for (const ch of unitKey(unit)) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return (h >>> 1) & 0x7fffffff;
}

/** A second pass's seed: a unit's own, mixed, so that its more runs draw inputs the first did not. */
export function topUpSeed(unitSeed: number): number {
  let h = Math.imul(unitSeed ^ 0x5bd1e995, 0x9e3779b1);
  h ^= h >>> 15;
  return (Math.imul(h, 0x85ebca6b) >>> 1) & 0x7fffffff;
}

/** The known failure that excuses this unit, if either side declares one for the role it plays. */
export function expectationFor(unit: Pick<Unit, 'property' | 'server' | 'client'>): Expectation | undefined {
  const id = unit.property.id;
  const s = unit.server?.expectations[id];
  if (s && (s.role === undefined || s.role === 'server')) return s;
  const c = unit.client?.expectations[id];
  if (c && (c.role === undefined || c.role === 'client')) return c;
  return undefined;
}
