/**
 * Stop-string matching over a stream of text deltas. Text that could be the start of a stop string is held back
 * until it is known not to be one, so a stop string split across tokens is still caught and never leaks into the
 * output (the OpenAI `stop` contract: the returned text excludes the stop sequence).
 */
export class StopMatcher {
  readonly #stops: string[];
  #pending = "";

  constructor(stops: string[]) {
    this.#stops = stops.filter((s) => s.length > 0);
  }

  /**
   * Adds a delta.
   * @returns `text`: the text safe to emit now (up to the stop string when one matched); `stop`: the stop string
   *   that matched, absent while none has. The match that starts first in the text wins; of stop strings starting at
   *   the same place, the one listed first. Text from the stop string on is dropped.
   */
  push(delta: string): { text: string; stop?: string } {
    if (!this.#stops.length) return { text: delta };
    this.#pending += delta;
    let cut = -1;
    let stop: string | undefined;
    for (const s of this.#stops) {
      const i = this.#pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) [cut, stop] = [i, s];
    }
    if (stop !== undefined) {
      const text = this.#pending.slice(0, cut);
      this.#pending = "";
      return { text, stop };
    }
    const hold = this.#heldSuffix();
    const text = this.#pending.slice(0, this.#pending.length - hold);
    this.#pending = this.#pending.slice(this.#pending.length - hold);
    return { text };
  }

  /** Releases held-back text at the end of generation. */
  flush(): string {
    const text = this.#pending;
    this.#pending = "";
    return text;
  }

  /** Length of the longest suffix of the pending text that is a proper prefix of a stop string. */
  #heldSuffix(): number {
    let best = 0;
    for (const s of this.#stops) {
      for (let k = Math.min(s.length - 1, this.#pending.length); k > best; k--) {
        if (this.#pending.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
