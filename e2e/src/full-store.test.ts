import { connectClient, signToken, waitUntil } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { exitedServices } from "./support/alive.js";
import { useStack } from "./support/use-stack.js";

// Tiny stores, so they fill with a few hundred kilobytes.
const MAILBOX_BYTES = 256 * 1024;
const INTAKE_BYTES = 128 * 1024;
/** More than one message below takes as stored (8 kB of data, its id, subject and headers). */
const ROOM = 9_000;
const world = useStack({
  envFor: { persistence: { HERALD_MAILBOX_MAX_BYTES: "256KiB", HERALD_INTAKE_MAX_BYTES: "128KiB" } },
});

describe("a full store", () => {
  it("refuses new publishes with a clear error, and what it holds is still delivered in order", async () => {
    const { backend, operator, stack } = world;
    const info = await (await operator.jsm()).streams.info(backend.s.streams.mailbox);
    expect(info.config.max_bytes).toBe(MAILBOX_BYTES);
    const blob = "z".repeat(8_000);
    const bytesOf = async (stream: string) => (await (await operator.jsm()).streams.info(stream)).state.bytes;
    let accepted = 0;
    let refusal: Error | undefined;
    // The mailbox fills first (the router's writes are then refused and retried), then the intake stream. A
    // refusal while the router still drains the intake is waited out, and the same message published again.
    for (let tries = 0; tries < 400; tries++) {
      try {
        await backend.toUser("hoarder", { data: { i: accepted, blob }, id: `h-${accepted}` });
        accepted++;
        continue;
      } catch (err) {
        refusal = err as Error;
      }
      const state = await waitUntil(
        async () => {
          if ((await bytesOf(backend.s.streams.mailbox)) + ROOM > MAILBOX_BYTES) return "full";
          return (await bytesOf(backend.s.streams.intake)) + ROOM <= INTAKE_BYTES ? "room" : undefined;
        },
        { timeoutMs: 10_000, message: "the router to drain the intake or fill the mailbox" },
      );
      if (state === "full") break;
    }
    expect(refusal?.message).toMatch(/maximum bytes exceeded/i);
    expect(accepted).toBeGreaterThan(0);
    const intakeCount = async () =>
      (await (await operator.jsm()).streams.info(backend.s.streams.intake)).state.messages;
    // Each accepted message is in one store or the other (a write in flight briefly counts in both).
    await waitUntil(
      async () => (await intakeCount()) + (await operator.mailboxCount("hoarder")) === accepted,
      {
        timeoutMs: 10_000,
        message: "every accepted message in the intake or the mailbox",
      },
    );
    const stored = await operator.mailboxCount("hoarder");
    expect(stored).toBeGreaterThan(0);

    const client = await connectClient(stack.wsUrl(await signToken({ sub: "hoarder" }, stack.jwtSecret)), {
      autoAck: true,
    });
    const messages = await client.waitForMessages(stored, 20_000);
    expect(messages.map((m) => m.id)).toEqual(Array.from({ length: messages.length }, (_, i) => `h-${i}`));
    // What waits in the intake stream stays there, neither lost nor dead-lettered.
    expect((await intakeCount()) + (await operator.mailboxCount("hoarder"))).toBe(accepted);
    expect(await operator.deadLetters()).toEqual([]);
    expect(await exitedServices(stack.all())).toEqual([]);
    await client.close();
  });
});
