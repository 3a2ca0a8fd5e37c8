// What the fan-out benchmark sends and how its clients read it. Herald's channel frame and the raw ws
// baseline's frame have the same shape and size, so the load generators do the same work for both.
import { nowUs } from "./clock.js";

/** `data` of fan-out message `n` of phase `ph`; `t` is the publish time in ms on the shared monotonic clock. */
export type FanoutData = { ph: number; n: number; t: number };

export const FANOUT_CHANNEL = "fan-1";

/** Publish time now: monotonic ms with µs precision (every process on the machine reads the same clock). */
export function stampMs(): number {
  return nowUs() / 1000;
}

export function fanoutData(ph: number, n: number): FanoutData {
  return { ph, n, t: stampMs() };
}

/** The id of message `n` of phase `ph` (also its JetStream `Nats-Msg-Id`, unique per run). */
export function fanoutId(runId: string, ph: number, n: number): string {
  return `f-${runId}-${ph}-${n}`;
}

/**
 * The raw baseline's frame, byte for byte what a connector sends for a channel message
 * (`{"type":"message","id","channel","offset","data","ts"}`), serialised once for every client.
 */
export function rawFrame(id: string, offset: number, data: FanoutData): Buffer {
  return Buffer.from(
    JSON.stringify({ type: "message", id, channel: FANOUT_CHANNEL, offset, data, ts: Date.now() }),
  );
}

const DATA_KEY = '"data":';

/**
 * The `data` of a channel `message` frame, or undefined for any other frame. Reads only the `data` object
 * (flat, as `fanoutData` makes it) rather than the whole frame: the load generator should cost as little CPU
 * as it can, since it shares the machine with the servers it measures.
 *
 * @example
 * readFanoutData('{"type":"message","id":"f-1","channel":"fan-1","offset":3,"data":{"ph":1,"n":0,"t":5.5},"ts":1}')
 * // { ph: 1, n: 0, t: 5.5 }
 */
export function readFanoutData(text: string): FanoutData | undefined {
  if (!text.startsWith('{"type":"message"')) return undefined;
  const start = text.indexOf(DATA_KEY);
  if (start < 0) return undefined;
  const end = text.indexOf("}", start);
  if (end < 0) return undefined;
  try {
    const data = JSON.parse(text.slice(start + DATA_KEY.length, end + 1)) as Partial<FanoutData>;
    if (typeof data.ph !== "number" || typeof data.n !== "number" || typeof data.t !== "number")
      return undefined;
    return data as FanoutData;
  } catch {
    return undefined;
  }
}
