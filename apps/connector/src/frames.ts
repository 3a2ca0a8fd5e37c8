import {
  CLIENT_FRAME_TYPES,
  type ClientFrame,
  clientFrameSchema,
  ErrorCode,
  type ErrorFrame,
} from "@herald/protocol";

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

export function errorFrame(code: string, message: string, ids?: string[]): string {
  const frame: ErrorFrame = ids ? { type: "error", code, message, ids } : { type: "error", code, message };
  return JSON.stringify(frame);
}

function fail(code: string, message: string): ParsedFrame {
  return { ok: false, error: { type: "error", code, message } };
}
