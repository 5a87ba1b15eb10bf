/**
 * The public API's closure of types: every interface, class, type alias and enum of this project that a
 * consumer meets through the entry points' exports (parameters, results, properties, type arguments,
 * however deep), and whether each is exported by name from one of the entries. A type a consumer can
 * meet but not name (`import type { X } from 'uds-conformance'` fails) is the defect this finds.
 * Walked with the TypeScript checker over the sources, which declare what the emitted .d.ts do.
 */
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface UnnamedType {
  name: string;
  file: string;
  /** The path from an export to it, e.g. "runSuite(options).excludePairings". */
  via: string;
}

const KINDS = ts.SymbolFlags.Interface | ts.SymbolFlags.Class | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Enum;

export function unnamedReachableTypes(root: string, entries: string[]): { exported: number; unnamed: UnnamedType[] } {
  const files = entries.map((e) => join(root, e));
  const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (!config) throw new Error('cannot read tsconfig.json');
  const program = ts.createProgram(files, { ...config.options, noEmit: true });
  const checker = program.getTypeChecker();
  const ours = (decl: ts.Declaration): boolean => {
    const f = decl.getSourceFile().fileName;
    return f.startsWith(root) && !f.includes('/node_modules/');
  };
  const named = new Set<ts.Symbol>();
  for (const file of files) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(file)!);
    if (!module) throw new Error(`${file} is not a module`);
    for (const ex of checker.getExportsOfModule(module)) named.add(ex.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(ex) : ex);
  }
  const seen = new Set<ts.Type>();
  const unnamed = new Map<ts.Symbol, string>();
  const need = (sym: ts.Symbol | undefined, via: string): void => {
    const decl = sym?.declarations?.[0];
    if (!sym || !decl || !ours(decl) || !(sym.flags & KINDS)) return;
    if (!named.has(sym) && !unnamed.has(sym)) unnamed.set(sym, via);
  };
  const walkSignature = (s: ts.Signature, via: string): void => {
    for (const p of s.getParameters()) walk(checker.getTypeOfSymbol(p), `${via}(${p.name})`);
    walk(s.getReturnType(), `${via}()`);
  };
  const walk = (t: ts.Type, via: string): void => {
    if (seen.has(t)) return;
    seen.add(t);
    if (t.aliasSymbol) {
      need(t.aliasSymbol, via);
      for (const a of t.aliasTypeArguments ?? []) walk(a, via);
    }
    need(t.symbol, via);
    if (t.isUnionOrIntersection()) for (const member of t.types) walk(member, via);
    if (!(t.flags & ts.TypeFlags.Object)) return;
    const object = t as ts.ObjectType;
    if (object.objectFlags & ts.ObjectFlags.Reference) for (const a of checker.getTypeArguments(object as ts.TypeReference)) walk(a, via);
    // A library's type (Promise, Map, Buffer, AbortSignal): only its type arguments are ours.
    const decl = t.symbol?.declarations?.[0];
    if (decl && !ours(decl)) return;
    for (const p of checker.getPropertiesOfType(t)) {
      const d = p.valueDeclaration ?? p.declarations?.[0];
      // Private and protected members are not in the declarations a consumer sees.
      if (d && ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
      walk(checker.getTypeOfSymbol(p), `${via}.${p.name}`);
    }
    for (const s of [...t.getCallSignatures(), ...t.getConstructSignatures()]) walkSignature(s, via);
    for (const info of checker.getIndexInfosOfType(t)) walk(info.type, via);
  };
  for (const sym of named) {
    if (sym.flags & (ts.SymbolFlags.Interface | ts.SymbolFlags.TypeAlias | ts.SymbolFlags.Class)) walk(checker.getDeclaredTypeOfSymbol(sym), sym.name);
    if (sym.flags & ts.SymbolFlags.Value) walk(checker.getTypeOfSymbol(sym), sym.name);
  }
  return {
    exported: named.size,
    unnamed: [...unnamed].map(([s, via]) => ({ name: s.name, file: relative(root, s.declarations![0]!.getSourceFile().fileName), via })),
  };
}
