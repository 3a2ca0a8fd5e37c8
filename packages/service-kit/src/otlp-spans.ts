import { type HrTime, type Link, type SpanContext, TraceFlags } from "@opentelemetry/api";
import type { tracing } from "@opentelemetry/sdk-node";
import { nanosAfter, RecordedEvent, RecordedSpan, type RecordedTime, secondsAfter } from "./span-recorder.js";
import { CheckedSpanContext } from "./traceparent.js";

/**
 * OTLP/protobuf encoding of an `ExportTraceServiceRequest`, byte for byte what the SDK's
 * `ProtobufTraceSerializer` writes (`otlp-spans.test.ts` compares the two on generated spans), in one pass
 * instead of a size pass and a write pass, and with ids written from their hex without a `Uint8Array` each.
 * The profile of tracing had the SDK's encoder as its largest part; the rest of the export (batching, HTTP,
 * retries, every `OTEL_EXPORTER_OTLP_*` setting) stays the SDK's (`otlp-exporter.ts`).
 */

type ReadableSpan = tracing.ReadableSpan;
/** What the encoder reads of a span: an SDK span, or one of `span-recorder.ts`. */
export type SpanRecord = Omit<ReadableSpan, "duration" | "ended">;
type Resource = ReadableSpan["resource"];
type Scope = ReadableSpan["instrumentationScope"];
type TimedEvent = ReadableSpan["events"][number];

/** Cached encodings of recurring strings (`Writer.name`), bounded so that odd names cannot grow it for ever. */
const names = new Map<string, Buffer>();
const MAX_NAMES = 512;

const LEN = 2; // wire type: length-delimited
const VARINT = 0;
const FIXED64 = 1;
const FIXED32 = 5;
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;
const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;

/** 0-15 for a hex digit's char code, as the SDK's `hexToBinary` reads it (any other char: code - 55). */
function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  return c - 55;
}

function varintSize(v: number): number {
  let size = 1;
  while (v > 0x7f) {
    v >>>= 7;
    size++;
  }
  return size;
}

/** A growing buffer with protobuf's primitives; nested messages reserve their length and move if it is longer. */
class Writer {
  buf: Buffer;
  pos = 0;

  constructor(buf: Buffer, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** As the SDK writes a varint: 32-bit unsigned values directly, anything else as a 64-bit two's complement. */
  varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      let v = value >>> 0;
      while (v > 0x7f) {
        buf[this.pos++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buf[this.pos++] = v;
      return;
    }
    const abs = Math.abs(value);
    let low = abs >>> 0;
    let high = (abs / 0x100000000) >>> 0;
    if (value < 0) {
      low = ~low >>> 0;
      high = ~high >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low & 0x7f;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }

  /** An `HrTime` as nanoseconds in a fixed64, computed as the SDK does (exact beyond 2^53). */
  time(hr: HrTime): void {
    this.timeParts(hr[0], hr[1]);
  }

  /**
   * A recorded span's time (`span-recorder.ts`): `at` ms after its start, written as `time(hrTimeAfter(...))`
   * without making the array; or an explicit `HrTime`.
   */
  timeAt(startMs: number, at: RecordedTime): void {
    if (typeof at !== "number") this.time(at);
    else this.timeParts(secondsAfter(startMs, at), nanosAfter(startMs, at));
  }

  timeParts(seconds: number, nanos: number): void {
    const lower = (seconds & 0xffff) * 1e9;
    const upper = ((seconds / 0x10000) >>> 0) * 1e9;
    const low = (lower >>> 0) + (((upper & 0xffff) * 0x10000) >>> 0) + nanos;
    const high = Math.floor(lower / 0x100000000) + ((upper / 0x10000) >>> 0) + Math.floor(low / 0x100000000);
    this.ensure(8);
    this.buf.writeUInt32LE(low >>> 0, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  string(s: string): void {
    const len = s.length;
    let ascii = true;
    for (let i = 0; i < len; i++) {
      if (s.charCodeAt(i) > 127) {
        ascii = false;
        break;
      }
    }
    if (!ascii) {
      this.bytes(Buffer.from(s, "utf8"));
      return;
    }
    this.varint(len);
    this.ensure(len);
    const buf = this.buf;
    for (let i = 0; i < len; i++) buf[this.pos++] = s.charCodeAt(i);
  }

  /**
   * A string from the small set that recurs in every span (attribute keys, span and event names), copied from
   * its cached encoding (length prefix and bytes) instead of encoded again.
   */
  name(s: string): void {
    let encoded = names.get(s);
    if (encoded === undefined) {
      const w = new Writer(Buffer.allocUnsafe(s.length * 3 + 5));
      w.string(s);
      encoded = Buffer.from(w.buf.subarray(0, w.pos));
      if (names.size < MAX_NAMES) names.set(s, encoded);
    }
    this.ensure(encoded.length);
    encoded.copy(this.buf, this.pos);
    this.pos += encoded.length;
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** A hex id as bytes (two characters a byte), without the intermediate array. */
  hexId(hex: string, checked: boolean): void {
    if (checked) {
      // Known lowercase hex of even length (`CheckedSpanContext`): the native decoder gives the same bytes.
      const n = hex.length >> 1;
      this.varint(n);
      this.ensure(n);
      this.pos += this.buf.write(hex, this.pos, n, "hex");
      return;
    }
    const n = Math.floor(hex.length / 2);
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++)
      buf[this.pos++] = ((nibble(hex.charCodeAt(2 * i)) << 4) | nibble(hex.charCodeAt(2 * i + 1))) & 0xff;
  }

  /** Starts a nested message, reserving `reserve` bytes for its length; returns where it starts. */
  begin(reserve: number): number {
    this.ensure(reserve);
    const start = this.pos;
    this.pos += reserve;
    return start;
  }

  /** Writes the length of the message begun at `start`, moving its body when the length takes other bytes. */
  end(start: number, reserve: number): void {
    const length = this.pos - start - reserve;
    const size = varintSize(length);
    if (size !== reserve) {
      this.ensure(size - reserve);
      this.buf.copyWithin(start + size, start + reserve, this.pos);
      this.pos += size - reserve;
    }
    let at = start;
    let v = length;
    while (v > 0x7f) {
      this.buf[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[at] = v;
  }
}

function anyValue(w: Writer, value: unknown): void {
  if (typeof value === "string") {
    w.tag(1, LEN);
    w.string(value);
  } else if (typeof value === "boolean") {
    w.tag(2, VARINT);
    w.varint(value ? 1 : 0);
  } else if (typeof value === "number") {
    if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
      w.tag(3, VARINT);
      w.varint(value);
    } else {
      w.tag(4, FIXED64);
      w.double(value);
    }
  } else if (value instanceof Uint8Array) {
    w.tag(7, LEN);
    w.bytes(value);
  } else if (Array.isArray(value)) {
    w.tag(5, LEN);
    const list = w.begin(1);
    for (const item of value) {
      w.tag(1, LEN);
      const at = w.begin(1);
      anyValue(w, item);
      w.end(at, 1);
    }
    w.end(list, 1);
  } else if (typeof value === "object" && value !== null) {
    w.tag(6, LEN);
    const list = w.begin(1);
    attributes(w, value as Record<string, unknown>, 1);
    w.end(list, 1);
  }
}

/** Repeated `KeyValue` in `field`, in the object's own key order. */
function attributes(w: Writer, attrs: Record<string, unknown>, field: number): void {
  for (const key in attrs) {
    if (!Object.hasOwn(attrs, key)) continue;
    w.tag(field, LEN);
    const kv = w.begin(1);
    w.tag(1, LEN);
    w.name(key);
    w.tag(2, LEN);
    const value = w.begin(1);
    anyValue(w, attrs[key]);
    w.end(value, 1);
    w.end(kv, 1);
  }
}

function flags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

function event(w: Writer, e: TimedEvent): void {
  w.tag(11, LEN);
  const at = w.begin(1);
  w.tag(1, FIXED64);
  if (e instanceof RecordedEvent) w.timeAt(e.startMs, e.at);
  else w.time(e.time);
  w.tag(2, LEN);
  w.name(e.name);
  if (e.attributes) attributes(w, e.attributes, 3);
  w.tag(4, VARINT);
  w.varint(e.droppedAttributesCount || 0);
  w.end(at, 1);
}

/** Fields 1–3 of a `Span` and of a `Link` alike: trace id, span id, trace state. */
function ids(w: Writer, ctx: SpanContext): void {
  w.tag(1, LEN);
  const checked = ctx instanceof CheckedSpanContext;
  w.hexId(ctx.traceId, checked);
  w.tag(2, LEN);
  w.hexId(ctx.spanId, checked);
  const state = ctx.traceState?.serialize();
  if (state) {
    w.tag(3, LEN);
    w.string(state);
  }
}

function link(w: Writer, l: Link & { droppedAttributesCount?: number }): void {
  w.tag(13, LEN);
  const at = w.begin(1);
  const ctx: SpanContext = l.context;
  ids(w, ctx);
  if (l.attributes) attributes(w, l.attributes, 4);
  w.tag(5, VARINT);
  w.varint(l.droppedAttributesCount || 0);
  w.tag(6, FIXED32);
  w.fixed32(flags(ctx.traceFlags, ctx.isRemote));
  w.end(at, 1);
}

/** One `Span`, its fields in the SDK serializer's order and with its choices of what to leave out. */
function span(w: Writer, s: SpanRecord): void {
  if (s instanceof EncodedSpan) {
    w.ensure(s.length);
    s.slab.copy(w.buf, w.pos, s.offset, s.offset + s.length);
    w.pos += s.length;
    return;
  }
  w.tag(2, LEN);
  const at = w.begin(2);
  const ctx = s.spanContext();
  ids(w, ctx);
  const parent = s.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, LEN);
    w.hexId(parent.spanId, parent instanceof CheckedSpanContext);
  }
  w.tag(5, LEN);
  w.name(s.name);
  const kind = s.kind == null ? 0 : s.kind + 1; // OTLP's enum has UNSPECIFIED at 0
  if (kind !== 0) {
    w.tag(6, VARINT);
    w.varint(kind);
  }
  w.tag(7, FIXED64);
  if (s instanceof RecordedSpan) {
    w.timeAt(s.startMs, 0);
    w.tag(8, FIXED64);
    w.timeAt(s.startMs, s.endAt);
  } else {
    w.time(s.startTime);
    w.tag(8, FIXED64);
    w.time(s.endTime);
  }
  if (s.attributes) attributes(w, s.attributes, 9);
  w.tag(10, VARINT);
  w.varint(s.droppedAttributesCount);
  for (const e of s.events) event(w, e);
  w.tag(12, VARINT);
  w.varint(s.droppedEventsCount);
  for (const l of s.links) link(w, l);
  w.tag(14, VARINT);
  w.varint(s.droppedLinksCount);
  w.tag(15, LEN);
  const status = w.begin(1);
  if (s.status.message) {
    w.tag(2, LEN);
    w.string(s.status.message);
  }
  w.tag(3, VARINT);
  w.varint(s.status.code);
  w.end(status, 1);
  w.tag(16, FIXED32);
  w.fixed32(flags(ctx.traceFlags, parent?.isRemote));
  w.end(at, 2);
}

function scopeSpans(w: Writer, scope: Scope, spans: ReadableSpan[]): void {
  w.tag(2, LEN);
  const at = w.begin(3);
  w.tag(1, LEN);
  const sc = w.begin(1);
  w.tag(1, LEN);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LEN);
    w.string(scope.version);
  }
  const extra = scope as Scope & { attributes?: Record<string, unknown>; droppedAttributesCount?: number };
  if (extra.attributes) attributes(w, extra.attributes, 3);
  if (extra.droppedAttributesCount) {
    w.tag(4, VARINT);
    w.varint(extra.droppedAttributesCount);
  }
  w.end(sc, 1);
  for (const s of spans) span(w, s);
  if (scope.schemaUrl) {
    w.tag(3, LEN);
    w.string(scope.schemaUrl);
  }
  w.end(at, 3);
}

function resourceSpans(w: Writer, resource: Resource, scopes: Map<Scope, ReadableSpan[]>): void {
  w.tag(1, LEN);
  const at = w.begin(3);
  w.tag(1, LEN);
  const res = w.begin(2);
  if (resource.attributes) attributes(w, resource.attributes, 1);
  w.tag(2, VARINT);
  w.varint(0);
  w.end(res, 2);
  for (const spans of scopes.values()) scopeSpans(w, spans[0]!.instrumentationScope, spans);
  if (resource.schemaUrl) {
    w.tag(3, LEN);
    w.string(resource.schemaUrl);
  }
  w.end(at, 3);
}

/** The `ExportTraceServiceRequest` of `spans`, grouped by resource and scope (by identity) as the SDK does. */
export function serializeSpans(spans: ReadableSpan[]): Uint8Array {
  const byResource = new Map<Resource, Map<Scope, ReadableSpan[]>>();
  for (const s of spans) {
    let scopes = byResource.get(s.resource);
    if (!scopes) {
      scopes = new Map();
      byResource.set(s.resource, scopes);
    }
    const list = scopes.get(s.instrumentationScope);
    if (list) list.push(s);
    else scopes.set(s.instrumentationScope, [s]);
  }
  const w = new Writer(Buffer.allocUnsafe(Math.max(1024, spans.length * 256)));
  for (const [resource, scopes] of byResource) resourceSpans(w, resource, scopes);
  return w.buf.subarray(0, w.pos);
}

/**
 * An ended span already encoded (its `Span` field of a `ScopeSpans`), kept in place of the SDK's span object
 * until its batch is exported: a few hundred bytes in a shared slab instead of an object graph that lives
 * through several collections. It answers what the batch processor and `serializeSpans` ask of a span.
 */
export class EncodedSpan {
  constructor(
    readonly resource: Resource,
    readonly instrumentationScope: Scope,
    readonly slab: Buffer,
    readonly offset: number,
    readonly length: number,
  ) {}

  /**
   * What the batch processor asks of a span before it keeps it: whether it is sampled (only sampled spans are
   * encoded). The span's own context is not kept, so its ids do not wait for the export as objects.
   */
  spanContext(): SpanContext {
    return ENCODED_CONTEXT;
  }
}

/** Read for its sampled flag alone (`EncodedSpan.spanContext`); the ids are in the encoded bytes. */
const ENCODED_CONTEXT: SpanContext = Object.freeze({
  traceId: "",
  spanId: "",
  traceFlags: TraceFlags.SAMPLED,
});

const SLAB_BYTES = 256 * 1024;
/** Room left in a slab below which the next span starts a new one (a larger span grows its own buffer). */
const SLAB_MIN_ROOM = 16 * 1024;
let slab = Buffer.allocUnsafe(SLAB_BYTES);
let slabPos = 0;

/** `s` encoded as `serializeSpans` would write it, into the current slab. */
export function encodeSpan(s: SpanRecord): EncodedSpan {
  if (slab.length - slabPos < SLAB_MIN_ROOM) {
    slab = Buffer.allocUnsafe(SLAB_BYTES);
    slabPos = 0;
  }
  const w = new Writer(slab, slabPos);
  span(w, s);
  const encoded = new EncodedSpan(s.resource, s.instrumentationScope, w.buf, slabPos, w.pos - slabPos);
  if (w.buf === slab) slabPos = w.pos;
  else {
    // The span outgrew the slab's room: it keeps the grown copy, later spans start a fresh slab.
    slab = Buffer.allocUnsafe(SLAB_BYTES);
    slabPos = 0;
  }
  return encoded;
}
