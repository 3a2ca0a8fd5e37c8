import { waitUntil } from "@herald/testkit";
import { useNats } from "@herald/testkit/vitest";
import { Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { type LeaderTerm, runLeaderLoop, type TermEnd } from "./leadership.js";
import { Lease } from "./lease.js";

const nats = useNats();

const lease = (key: string, holderId: string) =>
  new Lease({
    open: () => new Kvm(nats.nc).create("leadership_test", { history: 1 }),
    key,
    holderId,
    ttlMs: 900,
    renewMs: 300,
    onChange: () => {},
  });

/** Resolves when `signal` aborts. */
const abortedOf = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));

describe("runLeaderLoop", () => {
  it("runs terms on one replica at a time and hands over when the leader stops", async () => {
    const replicas = ["a", "b"].map((id) => {
      const stop = new AbortController();
      const state = { id, lease: lease("handover", id), terms: 0, leading: false, stop };
      const term = async ({ lost, healthy }: LeaderTerm): Promise<TermEnd> => {
        state.terms++;
        state.leading = true;
        healthy();
        await Promise.race([abortedOf(lost), abortedOf(stop.signal)]);
        state.leading = false;
        return "lost";
      };
      const loop = runLeaderLoop({
        lease: state.lease,
        signal: stop.signal,
        term,
        onError: (err) => {
          throw err;
        },
        retry: { initialMs: 10, maxMs: 10 },
      });
      return { state, loop };
    });
    const first = await waitUntil(() => replicas.find((r) => r.state.leading), { message: "a leader" });
    expect(replicas.filter((r) => r.state.leading)).toHaveLength(1);
    const other = replicas.find((r) => r !== first);
    first.state.stop.abort();
    await first.loop;
    await first.state.lease.stop();
    await waitUntil(() => other?.state.leading, { message: "the other replica to lead" });
    expect(first.state.leading).toBe(false);
    expect(other?.state.terms).toBe(1);
    other?.state.stop.abort();
    await other?.loop;
    await other?.state.lease.stop();
  }, 30_000);

  it("retries a failed term after the back-off while it still holds the lease, and reports the error", async () => {
    const stop = new AbortController();
    const held = lease("retry", "only");
    const errors: unknown[] = [];
    let terms = 0;
    const loop = runLeaderLoop({
      lease: held,
      signal: stop.signal,
      term: async () => {
        terms++;
        if (terms === 1) throw new Error("could not bind");
        if (terms === 2) return "failed";
        await abortedOf(stop.signal);
        return "lost";
      },
      onError: (err) => errors.push(err),
      retry: { initialMs: 20, maxMs: 50 },
    });
    await waitUntil(() => terms === 3, { message: "a third term" });
    expect(errors.map((err) => (err as Error).message)).toEqual(["could not bind"]);
    stop.abort();
    await loop;
    await held.stop();
    expect(held.held()).toBe(false);
  }, 30_000);
});
