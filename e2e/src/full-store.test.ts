import { describe, expect, it } from "vitest";
import { connectClient, signToken, waitUntil } from "./fixtures/index.js";
import { exitedServices } from "./support/alive.js";
import { useStack } from "./support/use-stack.js";

// Tiny stores, so they fill with a few hundred kilobytes.
const world = useStack({
  envFor: { persistence: { HERALD_MAILBOX_MAX_BYTES: "256KiB", HERALD_INTAKE_MAX_BYTES: "128KiB" } },
});

describe("a full store", () => {
  it("refuses new publishes with a clear error, and what it holds is still delivered in order", async () => {
    const { backend, stack } = world;
    const info = await backend.jsm.streams.info(backend.s.streams.mailbox);
    expect(info.config.max_bytes).toBe(256 * 1024);
    const blob = "z".repeat(8_000);
    let accepted = 0;
    let refusal: Error | undefined;
    // The mailbox fills first (the router's writes are then refused and retried), then the intake stream.
    for (let i = 0; i < 400 && !refusal; i++) {
      try {
        await backend.toUser("hoarder", { data: { i, blob }, id: `h-${i}` });
        accepted++;
      } catch (err) {
        refusal = err as Error;
      }
    }
    expect(refusal?.message).toMatch(/maximum bytes exceeded/i);
    expect(accepted).toBeGreaterThan(0);
    const stored = await backend.mailboxCount("hoarder");
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(accepted);

    const client = await connectClient(stack.wsUrl(await signToken({ sub: "hoarder" }, stack.jwtSecret)), {
      autoAck: true,
    });
    const messages = await client.waitForMessages(stored, 20_000);
    expect(messages.map((m) => m.id)).toEqual(Array.from({ length: stored }, (_, i) => `h-${i}`));
    // What waits in the intake stream stays there, neither lost nor dead-lettered.
    const intake = await backend.jsm.streams.info(backend.s.streams.intake);
    expect(intake.state.messages).toBe(accepted - stored);
    expect(await backend.deadLetters()).toEqual([]);
    await waitUntil(async () => (await exitedServices(stack.all())).length === 0, { timeoutMs: 1_000 });
    await client.close();
  });
});
