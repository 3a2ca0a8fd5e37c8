import { type BenchData, nowUs, padding, wallUs } from "./clock.js";

/**
 * Builds the `data` of message `i` of phase `ph`, stamped now, padded so that the JSON body that carries it
 * (measured with `wrap`) is about `bytes` long.
 *
 * @example
 * const make = dataMaker(200, (data) => JSON.stringify({ id: "m-1", data }));
 * const data = make(1, 42);
 */
export function dataMaker(
  bytes: number,
  wrap: (data: BenchData) => string,
): (ph: number, i: number) => BenchData {
  const sample: BenchData = { ph: 1, i: 99_999, t: nowUs(), w: wallUs(), p: "" };
  const pad = padding(wrap(sample).length, bytes);
  return (ph, i) => ({ ph, i, t: nowUs(), w: wallUs(), p: pad });
}

/** The id of message `i` of a phase: unique per run so dedup windows never merge two runs. */
export function messageId(runId: string, phase: number, i: number): string {
  return `${idPrefix(runId, phase)}${i}`;
}

/** What every id of a phase starts with. */
export function idPrefix(runId: string, phase: number): string {
  return `${runId}-${phase}-`;
}

/** The message index from an id made by `messageId`, or -1. */
export function indexOfId(id: string): number {
  const dash = id.lastIndexOf("-");
  const value = Number(id.slice(dash + 1));
  return dash >= 0 && Number.isInteger(value) ? value : -1;
}
