import {
  CLIENT_FRAME_TYPES,
  type ClientFrame,
  clientFrameSchema,
  ErrorCode,
  type ErrorFrame,
  MAX_ACK_IDS,
} from "@herald/protocol";

/**
 * Where a session's or a channel subscription's frames go: the connection, passed as an object so that an
 * idle connection holds no send closure.
 */
export interface FrameSink {
  /** Sends a frame; false when the socket can take no more (it is then being closed). */
  send(frame: string | Buffer): boolean;
}

export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: ErrorFrame };

const KNOWN_TYPES: ReadonlySet<string> = new Set(CLIENT_FRAME_TYPES);

/** Parses one client text frame; never throws, whatever the input. */
export function parseClientFrame(text: string): ParsedFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail(ErrorCode.InvalidJson, "frame is not valid JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail(ErrorCode.InvalidFrame, "frame must be a JSON object with a type");
  }
  const type = (value as { type?: unknown }).type;
  if (typeof type !== "string") return fail(ErrorCode.InvalidFrame, "frame has no string type");
  if (!KNOWN_TYPES.has(type)) {
    return fail(ErrorCode.UnknownFrameType, `unknown frame type '${type.slice(0, 32)}'`);
  }
  // Acks are most of what clients send: checked by hand, the schema handles everything else (and bad acks).
  if (type === "ack" && isPlainAck(value)) return { ok: true, frame: value };
  const parsed = clientFrameSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(
      ErrorCode.InvalidFrame,
      `invalid ${type} frame: ${issue?.path.join(".") || "frame"}: ${issue?.message}`,
    );
  }
  return { ok: true, frame: parsed.data };
}

const MESSAGE_ID = /^[\x21-\x7e]{1,256}$/;

function isPlainAck(value: object): value is { type: "ack"; ids: string[] } {
  const { ids } = value as { ids?: unknown };
  if (Object.keys(value).length !== 2 || !Array.isArray(ids)) return false;
  if (ids.length === 0 || ids.length > MAX_ACK_IDS) return false;
  return ids.every((id) => typeof id === "string" && MESSAGE_ID.test(id));
}

export function errorFrame(code: ErrorCode, message: string, ids?: string[]): string {
  const frame: ErrorFrame = ids ? { type: "error", code, message, ids } : { type: "error", code, message };
  return JSON.stringify(frame);
}

function fail(code: ErrorCode, message: string): ParsedFrame {
  return { ok: false, error: { type: "error", code, message } };
}
