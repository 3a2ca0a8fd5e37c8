import { isSpanContextValid, type SpanContext, type TraceState } from "@opentelemetry/api";

/**
 * The common W3C `traceparent` shapes read and written without the generic propagator (a regex, a getter, a
 * context per call): a version-00 value of exactly 55 characters, and a span context without `tracestate`.
 * Anything else is left to the SDK's `W3CTraceContextPropagator`, so the result is always what it would give
 * (`traceparent.test.ts` compares the two on generated input).
 */

const TRACEPARENT_LENGTH = 55;

/**
 * A span context whose ids are known valid (read by `parseTraceparent`, or made by `span-recorder.ts`), so
 * `validContext` skips the API's regex checks for it.
 */
export class CheckedSpanContext implements SpanContext {
  traceState?: TraceState;

  constructor(
    readonly traceId: string,
    readonly spanId: string,
    public traceFlags: number,
    readonly isRemote: boolean,
  ) {}
}

/** `isSpanContextValid`, at no cost for a `CheckedSpanContext`. */
export function validContext(context: SpanContext): boolean {
  return context instanceof CheckedSpanContext || isSpanContextValid(context);
}

/** 0-15 for a lowercase hex digit's char code, -1 otherwise (W3C ids and flags are lowercase). */
const HEX = new Int8Array(128).fill(-1);
for (let c = 0; c < 16; c++) HEX[c.toString(16).charCodeAt(0)] = c;

/** True when `s[from, to)` is lowercase hex and, with `nonZero`, not all zeros. */
function hexRun(s: string, from: number, to: number, nonZero: boolean): boolean {
  let any = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? HEX[c]! : -1;
    if (v < 0) return false;
    any |= v;
  }
  return !nonZero || any !== 0;
}

/**
 * The remote span context of a version-00 `traceparent` of exactly 55 characters; undefined for any other
 * value (invalid, padded, or a later version), which the propagator must judge.
 */
export function parseTraceparent(value: string): SpanContext | undefined {
  if (value.length !== TRACEPARENT_LENGTH) return undefined;
  if (value.charCodeAt(0) !== 48 || value.charCodeAt(1) !== 48) return undefined; // "00"
  if (value.charCodeAt(2) !== 45 || value.charCodeAt(35) !== 45 || value.charCodeAt(52) !== 45)
    return undefined;
  if (!hexRun(value, 3, 35, true) || !hexRun(value, 36, 52, true) || !hexRun(value, 53, 55, false))
    return undefined;
  return new CheckedSpanContext(
    value.slice(3, 35),
    value.slice(36, 52),
    HEX[value.charCodeAt(53)]! * 16 + HEX[value.charCodeAt(54)]!,
    true,
  );
}

/**
 * `context` as the propagator writes `traceparent`: undefined for an invalid context (nothing is written).
 * The caller leaves a context with `tracestate` to the propagator, which writes that header too.
 */
export function formatTraceparent(context: SpanContext): string | undefined {
  if (!validContext(context)) return undefined;
  const flags = context.traceFlags;
  // Written as the SDK does ("0" + hex), flags above 15 included.
  const f = flags === 1 ? "01" : flags ? `0${Number(flags).toString(16)}` : "00";
  return `00-${context.traceId}-${context.spanId}-${f}`;
}
