/**
 * The part of the WHATWG `WebSocket` interface the client uses. Both the browser's `WebSocket` and the `ws`
 * package's class satisfy it. Declared with method syntax so the listener parameter types are checked
 * bivariantly, which lets `ws`'s narrower event types fit.
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open", listener: (event: unknown) => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
  addEventListener(type: "error", listener: (event: unknown) => void): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `WebSocket.OPEN`, spelled out because not every implementation has the static. */
export const OPEN = 1;

/** The text of a frame's data: strings as is, binary decoded as UTF-8 (some servers send JSON as binary). */
export function frameText(data: unknown): string | undefined {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return new TextDecoder().decode(data);
  return undefined;
}

/** The message of an `error` event when the implementation gives one (`ws` does, browsers do not). */
export function errorEventMessage(event: unknown): string | undefined {
  if (typeof event !== "object" || event === null) return undefined;
  const { message, error } = event as { message?: unknown; error?: unknown };
  if (typeof message === "string" && message !== "") return message;
  return error instanceof Error ? error.message : undefined;
}
