/**
 * A sequence property's evidence as the reporters read it: `evidence.details.sequence` (docs/results.md,
 * "Sequence evidence"). The shape is checked here, where details are read, because details are free-form
 * in results.json: a report read back from a file, or written by another version, may hold anything
 * under `sequence`. Something that does not fit is not a sequence to the reporters; they show it as the
 * plain JSON it is (the HTML page's details) or leave it out (terminal, summary.md), and never throw.
 */

import type { SequenceEvidence } from '../model/types.js';

export type { SequenceEvidence };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function side(v: unknown, length: number): v is { label: string; steps: string[] } {
  return isObject(v) && typeof v.label === 'string' && isStrings(v.steps) && v.steps.length === length;
}

/**
 * `details.sequence` when it has the SequenceEvidence shape (both sides with one outcome per command,
 * firstDifference null or the index of a command), else undefined.
 */
export function sequenceEvidence(details: unknown): SequenceEvidence | undefined {
  if (!isObject(details)) return undefined;
  const s = details.sequence;
  if (!isObject(s) || !isStrings(s.commands) || typeof s.equivalence !== 'string') return undefined;
  const n = s.commands.length;
  if (!side(s.subject, n) || !side(s.oracle, n)) return undefined;
  const d = s.firstDifference;
  if (!(d === null || (typeof d === 'number' && Number.isInteger(d) && d >= 0 && d < n))) return undefined;
  return {
    commands: s.commands,
    subject: { label: s.subject.label, steps: s.subject.steps },
    oracle: { label: s.oracle.label, steps: s.oracle.steps },
    firstDifference: d,
    equivalence: s.equivalence,
  };
}

/** One line of text: control characters and DEL as \xNN (outcomes may hold received bytes), bounded. */
export function stepText(text: string, max = 160): string {
  const one = text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

/** The first differing step, for the text reports; steps are numbered from 1, as the HTML table does. */
export interface FirstDifference {
  /** 1-based. */
  step: number;
  of: number;
  command: string;
  subject: { label: string; outcome: string };
  oracle: { label: string; outcome: string };
}

/** Undefined without a sequence, or when no step differs. */
export function firstDifference(s: SequenceEvidence | undefined): FirstDifference | undefined {
  const i = s?.firstDifference ?? null;
  if (!s || i === null) return undefined;
  return {
    step: i + 1,
    of: s.commands.length,
    command: s.commands[i]!,
    subject: { label: s.subject.label, outcome: s.subject.steps[i]! },
    oracle: { label: s.oracle.label, outcome: s.oracle.steps[i]! },
  };
}
