import { describe, expect, it } from "vitest";
import { resolveOptions } from "./options.js";
import { SSE_FALLBACK_AFTER, TransportChooser } from "./transport.js";

/** Sockets that never connect: only the chooser's bookkeeping is under test. */
class InertWebSocket {
  readyState = 0;
  addEventListener(): void {}
  send(): void {}
  close(): void {}
}
const pendingFetch = () => new Promise<never>(() => {});

function chooser() {
  const options = resolveOptions({ url: "ws://h/ws", token: "t", WebSocket: InertWebSocket as never });
  const c = new TransportChooser(options, { transport: "auto", fetch: pendingFetch });
  /** One attempt: opens its link, which `opens` or not, and ends; returns the attempt's transport. */
  const attempt = (opens: boolean) => {
    const kind = c.kind;
    c.open("t");
    if (opens) c.opened();
    c.ended();
    return kind;
  };
  return { c, attempt };
}

describe("TransportChooser in auto", () => {
  it("falls back to SSE after one failed WebSocket when no WebSocket ever opened", () => {
    const { attempt } = chooser();
    expect(attempt(false)).toBe("websocket");
    expect(attempt(true)).toBe("sse");
    // SSE stays while it works.
    expect(attempt(true)).toBe("sse");
  });

  it("keeps WebSocket through an outage once a WebSocket has opened, and falls back past it", () => {
    const { attempt } = chooser();
    expect(attempt(true)).toBe("websocket");
    const kinds = Array.from({ length: SSE_FALLBACK_AFTER + 2 }, () => attempt(false));
    expect(kinds).toEqual([
      ...Array.from({ length: SSE_FALLBACK_AFTER }, () => "websocket"),
      "sse",
      "websocket",
    ]);
  });

  it("goes back to WebSocket when an SSE link ends, if WebSocket worked before", () => {
    const { attempt } = chooser();
    attempt(true);
    for (let i = 0; i < SSE_FALLBACK_AFTER; i++) attempt(false);
    expect(attempt(true)).toBe("sse");
    // The SSE link ended: WebSocket first again; it fails at once on a network that blocks it, then SSE.
    expect(attempt(false)).toBe("websocket");
    expect(attempt(true)).toBe("sse");
    expect(attempt(true)).toBe("websocket");
  });
});
