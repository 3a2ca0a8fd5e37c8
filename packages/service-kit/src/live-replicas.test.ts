import { waitUntil } from "@herald/testkit";
import { useNats } from "@herald/testkit/vitest";
import { Kvm } from "@nats-io/kv";
import { describe, expect, it } from "vitest";
import { Lease } from "./lease.js";
import { LiveReplicas, replicaKey } from "./live-replicas.js";

const nats = useNats();

const replica = (bucket: string, id: string) =>
  new LiveReplicas({
    open: () => new Kvm(nats.nc).create(bucket, { history: 1, ttl: 60_000 }),
    id,
    ttlMs: 900,
    renewMs: 150,
  });

describe("LiveReplicas", () => {
  it("counts the replicas renewing their keys, and stops counting one that stopped or died", async () => {
    const a = replica("live_a", "host.a-1");
    const b = replica("live_a", "host.b-2");
    const c = replica("live_a", "c");
    for (const r of [a, b, c]) r.start();
    try {
      await waitUntil(() => a.ready && a.count() === 3 && c.count() === 3, { message: "all three seen" });
      // Stopped: its key is deleted, so the others count it gone at once.
      await b.stop();
      await waitUntil(() => a.count() === 2, { message: "b gone", timeoutMs: 500 });
      // Dead: no delete, no renewal; counted gone a TTL after its last renewal.
      (c as unknown as { timer: NodeJS.Timeout }).timer.unref();
      clearInterval((c as unknown as { timer: NodeJS.Timeout }).timer);
      await waitUntil(() => a.count() === 1, { message: "c gone", timeoutMs: 3_000 });
    } finally {
      await Promise.all([a.stop(), c.stop()]);
    }
  }, 30_000);

  it("counts a key left by a replica before it started only until two renewals are missed", async () => {
    const kv = await new Kvm(nats.nc).create("live_b", { history: 1, ttl: 60_000 });
    await kv.put(replicaKey("long-gone"), "");
    const a = replica("live_b", "a");
    a.start();
    try {
      await waitUntil(() => a.ready, { message: "ready" });
      expect(a.count()).toBe(2);
      await waitUntil(() => a.count() === 1, { message: "the old key ignored", timeoutMs: 1_000 });
    } finally {
      await a.stop();
    }
  });

  it("makes a valid key of any replica id", () => {
    expect(replicaKey("host.example-1")).toBe("host_example-1");
    expect(replicaKey("a b*c>")).toBe("a_b_c_");
    expect(replicaKey("")).toBe("_");
  });
});

describe("Lease with a share", () => {
  const lease = (key: string, holderId: string, mayAcquire: () => boolean) =>
    new Lease({
      open: () => new Kvm(nats.nc).create("share_test", { history: 1 }),
      key,
      holderId,
      // Long enough that "at once" and "a TTL later" cannot be confused on a loaded machine.
      ttlMs: 3_000,
      renewMs: 150,
      mayAcquire,
      onChange: () => {},
    });

  it("takes a lease only when allowed, hands it over drained, and takes an expired one at once when allowed", async () => {
    let aMay = true;
    let bMay = false;
    const a = lease("shared", "a", () => aMay);
    const b = lease("shared", "b", () => bMay);
    a.start();
    b.start();
    try {
      await waitUntil(() => a.held(), { message: "a holds" });
      aMay = false;
      // Released: a stops counting as holder at once, and frees the key once its work is done.
      let drained = false;
      await a.release(async () => {
        expect(a.held()).toBe(false);
        drained = true;
      });
      expect(drained).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(a.held() || b.held()).toBe(false);
      bMay = true;
      await waitUntil(() => b.held(), { message: "b takes the free lease", timeoutMs: 1_000 });
      // b dies. a, not allowed, still watches its key; allowed once b has expired, it takes over at once.
      clearInterval((b as unknown as { timer: NodeJS.Timeout }).timer);
      await new Promise((resolve) => setTimeout(resolve, 3_000 + 2 * 150 + 100));
      expect(a.held()).toBe(false);
      const allowedAt = performance.now();
      aMay = true;
      await waitUntil(() => a.held(), { message: "a takes the expired lease", timeoutMs: 3_000 });
      expect(performance.now() - allowedAt).toBeLessThan(2_000);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  }, 30_000);
});
