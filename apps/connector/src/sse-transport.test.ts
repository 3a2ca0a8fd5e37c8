import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { SseTransport } from "./sse-transport.js";

/** What the transport uses of a response: writes land in `written`, `writableLength` is what is still queued. */
class FakeResponse extends EventEmitter {
  written: string[] = [];
  writableLength = 0;
  writableEnded = false;
  destroyed = false;
  writeHead(): this {
    return this;
  }
  write(chunk: string): boolean {
    this.written.push(chunk);
    return true;
  }
}

function stream() {
  const response = new FakeResponse();
  const transport = new SseTransport(response as unknown as ServerResponse);
  return { response, transport };
}

describe("SSE keep-alive", () => {
  it("pings a stream that keeps draining, and keeps it", () => {
    const { response, transport } = stream();
    for (let i = 0; i < 3; i++) expect(transport.keepAlive()).toBe(true);
    expect(response.written.filter((w) => w === ": ping\n\n")).toHaveLength(3);
  });

  it("gives up on a stream that had not drained at the last ping (the client stopped reading)", () => {
    const { response, transport } = stream();
    response.writableLength = 10;
    expect(transport.keepAlive()).toBe(true);
    expect(transport.keepAlive()).toBe(false);
  });

  it("gives up on a stream that had ended at the last ping", () => {
    const { response, transport } = stream();
    response.writableEnded = true;
    expect(transport.keepAlive()).toBe(true);
    expect(transport.keepAlive()).toBe(false);
    expect(response.written.filter((w) => w === ": ping\n\n")).toHaveLength(0);
  });
});
