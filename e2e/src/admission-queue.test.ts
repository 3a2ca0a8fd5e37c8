import { signToken } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { useStack } from "./support/use-stack.js";

// One new connection a second, and a wait of at most 1.2 s for the next slot.
const world = useStack({
  envFor: {
    connector: { HERALD_MAX_NEW_CONNECTIONS_PER_SECOND: "1", HERALD_NEW_CONNECTION_MAX_WAIT: "1200ms" },
  },
});

const base = () => `http://127.0.0.1:${world.stack.connectors[0]!.port}/sse`;

async function ticketFor(sub: string): Promise<string> {
  const token = await signToken({ sub, did: "laptop" }, world.stack.jwtSecret);
  const response = await fetch(`${base()}/ticket`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}` },
  });
  return ((await response.json()) as { ticket: string }).ticket;
}

describe("admission queue", () => {
  it("holds an SSE stream past the rate until its slot, and refuses one past the longest wait with Retry-After", async () => {
    const tickets = await Promise.all(["q1", "q2", "q3"].map(ticketFor));
    const abort = new AbortController();
    const started = Date.now();
    // All three at once: the first opens now, the second waits ~1 s for its slot, the third would wait ~2 s.
    const outcomes = await Promise.all(
      tickets.map(async (ticket) => {
        const response = await fetch(`${base()}?ticket=${encodeURIComponent(ticket)}`, {
          signal: abort.signal,
        });
        return {
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          ms: Date.now() - started,
        };
      }),
    );
    abort.abort();
    const opened = outcomes.filter((o) => o.status === 200).sort((a, b) => a.ms - b.ms);
    const refused = outcomes.filter((o) => o.status === 503);
    expect(opened).toHaveLength(2);
    expect(refused).toEqual([expect.objectContaining({ retryAfter: "1" })]);
    // The queued one was answered only once its slot came.
    expect(opened[1]!.ms).toBeGreaterThanOrEqual(700);
  });
});
