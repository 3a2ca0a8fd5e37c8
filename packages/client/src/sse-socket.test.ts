import { describe, expect, it } from "vitest";
import { sseEndpoint } from "./sse-socket.js";

describe("sseEndpoint", () => {
  it.each([
    ["wss://push.example.com/ws", "https://push.example.com/sse"],
    ["ws://127.0.0.1:8080/ws?x=1", "http://127.0.0.1:8080/sse"],
    ["wss://example.com/herald/ws", "https://example.com/herald/sse"],
    ["wss://example.com/", "https://example.com/sse"],
  ])("%s → %s", (ws, sse) => {
    expect(sseEndpoint(ws)).toBe(sse);
  });
});
