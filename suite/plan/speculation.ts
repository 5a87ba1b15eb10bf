/**
 * How a unit's cases share the run (runner.ts): the run's case slots, and a unit's cases run ahead of
 * fast-check in them. Kept apart from the runner because neither knows about properties or results.
 */
/** How one case ended, kept until fast-check asks for it (Speculation). */
export type CaseOutcome =
  | { ok: true; observed: Record<string, unknown> | void; durationMs: number }
  | { ok: false; error: unknown; timedOut: boolean; deadlineMs: number }
  | { ok: 'skipped' };

/**
 * The cases in flight of a whole run, at most `limit` (admission.ts moves it). A free slot goes to the
 * units asking, in turn: a unit with many cases waiting does not hold back one with a single case, and
 * the units in flight, of different pairings, progress together.
 */
export class CaseSlots {
  inFlight = 0;
  private readonly asking = new Map<number, Array<() => void>>();
  /** Units with a request, in the order they get the next slots. */
  private turns: number[] = [];

  constructor(public limit: number) {}

  /** Resolves when unit `unit` may start a case; every acquire needs one release. */
  acquire(unit: number): Promise<void> {
    return new Promise((resolve) => {
      const queue = this.asking.get(unit);
      if (queue) queue.push(resolve);
      else {
        this.asking.set(unit, [resolve]);
        this.turns.push(unit);
      }
      this.pump();
    });
  }

  release(): void {
    this.inFlight--;
    this.pump();
  }

  setLimit(limit: number): void {
    this.limit = limit;
    this.pump();
  }

  /** Cases asked for and not started. */
  get waiting(): number {
    let n = 0;
    for (const q of this.asking.values()) n += q.length;
    return n;
  }

  private pump(): void {
    while (this.inFlight < this.limit && this.turns.length > 0) {
      const unit = this.turns.shift()!;
      const queue = this.asking.get(unit)!;
      const grant = queue.shift()!;
      if (queue.length > 0) this.turns.push(unit);
      else this.asking.delete(unit);
      this.inFlight++;
      grant();
    }
  }
}

/**
 * Runs a unit's generated cases ahead of fast-check, in the run's free case slots, and hands each
 * outcome to fast-check when it asks for that case: the unit's cases overlap instead of following each
 * other, and a slow subject's unit does not keep the run waiting behind it one case at a time.
 *
 * The result is the one a sequential run gives. fast-check draws its inputs in order from the seed
 * (fc.sample with the same seed, numRuns and examples is the same list, test/admission.test.ts pins
 * it), calls the predicate with them one at a time until the first failure, and only then shrinks:
 * every outcome is consumed in fast-check's order, and the unit's state (runs, observed, the shrink
 * control) changes only as it is consumed, so it is the same as if each case had run at that moment.
 * Cases are independent (each has its own case dir, processes and deadline; until the first failure
 * every case has the full deadline). At the first failure no more start; those already running ahead
 * run to their end as any case does, unheeded, and are awaited before the unit's result. They are not
 * cancelled: a case aborted from outside at an arbitrary moment is what only a deadline or Ctrl-C did
 * before, and some waits of the harness miss an abort that came before they listened (a run hung so).
 * Shrinking then runs one case at a time as before.
 *
 * Not for a replay (one recorded path) nor a property with `arbitraryFor` (fc.commands: the commands
 * object records what ran for its own shrinking, so it must run in fast-check's own value).
 */
export class Speculation {
  private readonly outcomes: Array<Promise<CaseOutcome>> = [];
  private next = 0;
  private live = true;

  constructor(
    private readonly inputs: unknown[],
    private readonly run: (input: unknown) => Promise<CaseOutcome>,
    private readonly slots: CaseSlots,
    private readonly unit: number,
  ) {}

  /** The outcome of the case fast-check asks for now, while it is still drawing inputs in order. */
  take(): Promise<CaseOutcome> | undefined {
    if (!this.live || this.next >= this.inputs.length) return undefined;
    const i = this.next++;
    // Ask for as many cases ahead as the run has slots: more would only queue.
    const until = Math.min(this.inputs.length, i + Math.max(1, this.slots.limit));
    for (let k = this.outcomes.length; k < until; k++) this.outcomes.push(this.start(k));
    return this.outcomes[i]!;
  }

  /** After the first failure fast-check shrinks: start no more cases ahead, and take no more. */
  failed(): void {
    this.live = false;
  }

  /** Every case started has ended. */
  async end(): Promise<void> {
    this.failed();
    await Promise.all(this.outcomes);
  }

  private async start(k: number): Promise<CaseOutcome> {
    await this.slots.acquire(this.unit);
    try {
      if (!this.live) return { ok: 'skipped' };
      return await this.run(this.inputs[k]);
    } finally {
      this.slots.release();
    }
  }
}

