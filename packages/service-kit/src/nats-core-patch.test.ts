import { withTimeout } from "@herald/testkit";
import { useNats } from "@herald/testkit/vitest";
import { connect, headers, type Msg, type Subscription } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";

/**
 * `patches/@nats-io__nats-core@3.4.0.patch` makes a subscription's three promises (`closed`, and the iterator's
 * `signal` and `iterClosed`) when first used: the connector holds a callback subscription per user, and made up
 * front they were most of its heap (bench/README.md, "What an idle connection holds"). It also encodes protocol
 * lines, string payloads and headers with `Buffer.from` rather than `TextEncoder` (a backing store per call).
 * These pin what Herald relies on, patched or not.
 */
const nats = useNats();
type Lazy = { _signal?: unknown; _iterClosed?: unknown; _closed?: unknown };
const encoder = new TextEncoder();

describe("subscriptions with the nats-core patch", () => {
  it("a callback subscription makes none of the promises until they are asked for", async () => {
    const got: string[] = [];
    const sub = nats.nc.subscribe("patch.cb", { callback: (_err, msg) => void got.push(msg.string()) });
    nats.nc.publish("patch.cb", encoder.encode("one"));
    await nats.nc.flush();
    expect(got).toEqual(["one"]);
    // Unpatched, all three are own properties holding a promise from the constructor on.
    expect(["signal", "iterClosed", "closed"].filter((key) => Object.hasOwn(sub, key))).toEqual([]);
    const lazy = sub as unknown as Lazy;
    expect([lazy._signal, lazy._iterClosed, lazy._closed]).toEqual([undefined, undefined, undefined]);
    sub.unsubscribe();
  });

  it("resolves `closed` after an unsubscribe, whether asked before or after it", async () => {
    const before = nats.nc.subscribe("patch.before", { callback: () => {} });
    const asked = before.closed;
    before.unsubscribe();
    await withTimeout(asked, 5_000, "closed asked before");
    const after = nats.nc.subscribe("patch.after", { callback: () => {} });
    after.unsubscribe();
    await nats.nc.flush();
    expect(after.isClosed()).toBe(true);
    await withTimeout(after.closed, 5_000, "closed asked after");
  });

  it("an iterator subscription yields every message and ends on unsubscribe", async () => {
    const sub = nats.nc.subscribe("patch.iter");
    const read = (async () => {
      const got: string[] = [];
      for await (const msg of sub) {
        got.push(msg.string());
        if (got.length === 3) sub.unsubscribe();
      }
      return got;
    })();
    for (const text of ["a", "b", "c"]) nats.nc.publish("patch.iter", encoder.encode(text));
    expect(await withTimeout(read, 5_000, "iterator")).toEqual(["a", "b", "c"]);
    await withTimeout(sub.closed, 5_000, "iterator closed");
  });

  it("closing the connection ends its subscriptions of both kinds", async () => {
    const nc = await connect({ servers: nats.server.url });
    const subs: Subscription[] = [
      nc.subscribe("patch.close.cb", { callback: () => {} }),
      nc.subscribe("patch.close.it"),
    ];
    const ended = (async () => {
      for await (const _ of subs[1]!) {
        // nothing is published here
      }
    })();
    await nc.close();
    await withTimeout(Promise.all([ended, ...subs.map((s) => s.closed)]), 5_000, "subscriptions closed");
    expect(subs.every((s) => s.isClosed())).toBe(true);
  });
});

describe("encoding with the nats-core patch", () => {
  // Non-ASCII in a subject, a header value and a string payload, and a lone surrogate, which both encoders
  // write as U+FFFD.
  const text = "grüße 🎉 \ud800 end";

  async function roundTrip(subject: string, send: () => void): Promise<Msg> {
    const got = new Promise<Msg>((resolve) => {
      const sub = nats.nc.subscribe(subject, { max: 1, callback: (_err, msg) => resolve(msg) });
      void sub;
    });
    await nats.nc.flush();
    send();
    return withTimeout(got, 5_000, subject);
  }

  it("a string payload arrives as the bytes TextEncoder writes", async () => {
    const msg = await roundTrip("patch.enc.payload", () => nats.nc.publish("patch.enc.payload", text));
    expect(Buffer.from(msg.data).equals(Buffer.from(encoder.encode(text)))).toBe(true);
  });

  it("header values and a non-ASCII subject survive the trip", async () => {
    const subject = "patch.enc.\u00fc";
    const msg = await roundTrip(subject, () => {
      const h = headers();
      h.set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      h.set("X-Text", text);
      nats.nc.publish(subject, encoder.encode("body"), { headers: h });
    });
    expect(msg.subject).toBe(subject);
    expect(msg.headers?.get("traceparent")).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    expect(msg.headers?.get("X-Text")).toBe(new TextDecoder().decode(encoder.encode(text)));
    expect(msg.string()).toBe("body");
  });

  it("many small publishes in one flush arrive whole and in order", async () => {
    const count = 2_000;
    const got: string[] = [];
    const done = new Promise<void>((resolve) => {
      nats.nc.subscribe("patch.enc.many", {
        max: count,
        callback: (_err, msg) => {
          got.push(msg.string());
          if (got.length === count) resolve();
        },
      });
    });
    await nats.nc.flush();
    // Each protocol line is a slice of Buffer's shared pool: none may overwrite another before it is written.
    for (let i = 0; i < count; i++) nats.nc.publish("patch.enc.many", `m${i}-${text}`);
    await withTimeout(done, 10_000, "all publishes");
    expect(got).toEqual(
      Array.from({ length: count }, (_, i) => `m${i}-${new TextDecoder().decode(encoder.encode(text))}`),
    );
  });
});
