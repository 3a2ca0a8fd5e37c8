import { JsPublisher } from "@herald/service-kit";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nanos } from "@nats-io/transport-node";
import { nowUs } from "./clock.js";
import { windowed } from "./pacing.js";
import { perSecond } from "./stats.js";

export type RateResult = {
  messages: number;
  elapsedMs: number;
  msgsPerSec: number;
  /** CPU time per message by process (filled in by the caller that can see the server's pid). */
  cpuMicrosPerMessage?: Record<string, number>;
};

const SUBJECT_COUNT = 1_000;
const body = (bytes: number) =>
  new TextEncoder().encode(JSON.stringify({ data: "x".repeat(Math.max(0, bytes - 11)) }));

/**
 * JetStream publish rate of one Node publisher on this machine, set up the way Herald writes: file storage,
 * `noAsyncTraces`, `window` outstanding PubAcks, `bytes`-byte JSON bodies over 1,000 subjects, and (with
 * `dedup`) a `Nats-Msg-Id` on every message. Uses its own stream, deleted afterwards. `client: "pipelined"`
 * publishes through Herald's `JsPublisher` (one reply subscription) instead of `js.publish` (a request per
 * message): the same server work, less publisher CPU, so it shows how much of the rate the client sets.
 *
 * @example
 * const { msgsPerSec } = await jetStreamPublishRate(nats.url, { messages: 100_000, window: 512, bytes: 200, dedup: true });
 */
export async function jetStreamPublishRate(
  url: string,
  options: { messages: number; window: number; bytes: number; dedup: boolean; client?: "js" | "pipelined" },
): Promise<RateResult> {
  const nc = await connect({ servers: url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const name = `BENCH_RAW_${Date.now().toString(36).toUpperCase()}`;
  const prefix = `bench.raw.${name.toLowerCase()}`;
  await jsm.streams.add({
    name,
    subjects: [`${prefix}.>`],
    storage: "file",
    duplicate_window: nanos(120_000),
  });
  try {
    const js = jetstream(nc);
    const pipelined = new JsPublisher(nc, { timeoutMs: 30_000 });
    const publish = (subject: string, msgID: string | undefined) => {
      const opts = msgID === undefined ? {} : { msgID };
      return options.client === "pipelined"
        ? pipelined.publish(subject, payload, opts)
        : js.publish(subject, payload, opts);
    };
    const payload = body(options.bytes);
    const subjects = Array.from({ length: SUBJECT_COUNT }, (_, i) => `${prefix}.u${i}`);
    const warm = Math.min(5_000, options.messages);
    await windowed(warm, options.window, (i) => publish(subjects[i % SUBJECT_COUNT] ?? prefix, undefined));
    const start = nowUs();
    await windowed(options.messages, options.window, (i) =>
      publish(subjects[i % SUBJECT_COUNT] ?? prefix, options.dedup ? `${name}-${i}` : undefined),
    );
    const elapsed = nowUs() - start;
    pipelined.close();
    return {
      messages: options.messages,
      elapsedMs: elapsed / 1000,
      msgsPerSec: perSecond(options.messages, elapsed),
    };
  } finally {
    await jsm.streams.delete(name).catch(() => false);
    await nc.close();
  }
}

/**
 * Core NATS (no persistence) publish → subscribe rate in one process over two connections, 1,000 subjects:
 * what the broker moves when nothing is written to disk.
 */
export async function coreNatsRate(
  url: string,
  options: { messages: number; bytes: number },
): Promise<RateResult> {
  const pub = await connect({ servers: url, noAsyncTraces: true });
  const sub = await connect({ servers: url, noAsyncTraces: true });
  try {
    const prefix = `bench.core.${Date.now().toString(36)}`;
    let received = 0;
    let lastUs = 0;
    let resolveDone: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve;
    });
    sub.subscribe(`${prefix}.>`, {
      callback: () => {
        received++;
        if (received === options.messages) {
          lastUs = nowUs();
          resolveDone();
        }
      },
    });
    await sub.flush();
    const payload = body(options.bytes);
    const subjects = Array.from({ length: SUBJECT_COUNT }, (_, i) => `${prefix}.u${i}`);
    const start = nowUs();
    for (let i = 0; i < options.messages; i++) {
      pub.publish(subjects[i % SUBJECT_COUNT] ?? prefix, payload);
      // A round trip now and then keeps the publisher from outrunning the subscriber into a slow-consumer drop.
      if (i % 20_000 === 19_999) await pub.flush();
    }
    await pub.flush();
    const timeout = setTimeout(resolveDone, 30_000);
    await done;
    clearTimeout(timeout);
    const elapsed = (lastUs || nowUs()) - start;
    return { messages: received, elapsedMs: elapsed / 1000, msgsPerSec: perSecond(received, elapsed) };
  } finally {
    await pub.close();
    await sub.close();
  }
}
