import type { ServerFrame } from "@herald/protocol";
import { ProtocolError } from "./errors.js";
import { frameText } from "./socket.js";

type Fields = Record<string, unknown>;

const isString = (value: unknown): value is string => typeof value === "string";
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

/**
 * Checks a frame from the server just enough to use it safely, without a schema library (the SDK ships to
 * browsers). Returns `undefined` for a well-formed frame of a type this version does not know, so a newer
 * server can add frame types without breaking older clients.
 */
export function parseServerFrame(data: unknown): ServerFrame | ProtocolError | undefined {
  const text = frameText(data);
  if (text === undefined) return new ProtocolError("received a frame that is not text");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return new ProtocolError(`received a frame that is not JSON: ${text.slice(0, 100)}`);
  }
  if (typeof value !== "object" || value === null || !isString((value as Fields).type)) {
    return new ProtocolError(`received a frame without a type: ${text.slice(0, 100)}`);
  }
  const frame = value as Fields;
  const bad = () =>
    new ProtocolError(`received a malformed ${String(frame.type)} frame: ${text.slice(0, 200)}`);
  switch (frame.type) {
    case "welcome":
      return isString(frame.userId) && isString(frame.deviceId) && isString(frame.connectionId)
        ? (frame as ServerFrame)
        : bad();
    case "message":
      if (!isString(frame.id) || !isNumber(frame.ts)) return bad();
      if (isString(frame.channel)) return isNumber(frame.offset) ? (frame as ServerFrame) : bad();
      return isNumber(frame.seq) ? (frame as ServerFrame) : bad();
    case "subscribed":
      return isString(frame.channel) && typeof frame.recovered === "boolean" ? (frame as ServerFrame) : bad();
    case "unsubscribed":
      return isString(frame.channel) && isString(frame.code) && isString(frame.message)
        ? (frame as ServerFrame)
        : bad();
    case "gap":
      return isNumber(frame.after) &&
        (frame.before === undefined || isNumber(frame.before)) &&
        isString(frame.reason)
        ? (frame as ServerFrame)
        : bad();
    case "error": {
      const ids = frame.ids;
      const idsOk = ids === undefined || (Array.isArray(ids) && ids.every(isString));
      return isString(frame.code) && isString(frame.message) && idsOk ? (frame as ServerFrame) : bad();
    }
    default:
      return undefined;
  }
}
