/**
 * OTLP trace export bodies (`ExportTraceServiceRequest`) for the lean tracer, in protobuf and in JSON, written
 * straight from its span records: no intermediate objects per span, which is where the SDK's exporter spends.
 * Field numbers are those of opentelemetry-proto's `trace/v1/trace.proto` and `common/v1/common.proto`.
 */

export type AttributeValue = string | number | boolean;
export type AttributeMap = Record<string, AttributeValue | undefined>;

/** One finished span; ids are lower-case hex, times are epoch milliseconds (fractional). */
export type SpanRecord = {
  name: string;
  /** OTLP `SpanKind` (the API's kind + 1). */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string | undefined;
  startMs: number;
  endMs: number;
  attributes: AttributeMap;
  /** OTLP `StatusCode`: 0 unset, 2 error. */
  statusCode: number;
  statusMessage: string | undefined;
};

const nanos = (ms: number) => BigInt(Math.round(ms * 1000)) * 1000n;

/** A protobuf writer over one growing Buffer; nested messages are written in place and prefixed afterwards. */
class ProtoWriter {
  buf: Buffer;
  constructor(size = 256) {
    this.buf = Buffer.allocUnsafe(size);
  }
  pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(10);
    this.pos = putVarint(this.buf, this.pos, value);
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  /** Epoch milliseconds as fixed64 nanoseconds (to ~0.25 µs: a double holds 53 bits). */
  timeNanos(field: number, ms: number): void {
    this.tag(field, 1);
    this.ensure(8);
    const ns = Math.round(ms * 1e6);
    this.buf.writeUInt32LE(ns % 0x1_0000_0000, this.pos);
    this.buf.writeUInt32LE(Math.floor(ns / 0x1_0000_0000), this.pos + 4);
    this.pos += 8;
  }

  int64(field: number, value: number): void {
    this.tag(field, 0);
    if (value >= 0) {
      this.varint(value);
      return;
    }
    // Two's complement over 64 bits: ten bytes.
    let v = BigInt.asUintN(64, BigInt(value));
    this.ensure(10);
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  double(field: number, value: number): void {
    this.tag(field, 1);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(value, this.pos);
  }

  /**
   * Starts nested message `field`: its tag, and one byte kept for its length, which fits most of Herald's
   * messages (under 128 bytes); `end` fills it in, moving the body only when the length needs more bytes.
   */
  begin(field: number): number {
    this.tag(field, 2);
    this.ensure(1);
    this.pos++;
    return this.pos;
  }

  end(start: number): void {
    const length = this.pos - start;
    if (length < 0x80) {
      this.buf[start - 1] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    this.pos += extra;
    putVarint(this.buf, start - 1, length);
  }

  /** ASCII without a native call (ids, names, attribute keys); anything else through Buffer.write. */
  string(field: number, value: string): void {
    this.tag(field, 2);
    const n = value.length;
    if (n < 0x80) {
      this.ensure(n + 1);
      const buf = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = p;
        return;
      }
    }
    const length = Buffer.byteLength(value);
    this.varint(length);
    this.ensure(length);
    this.pos += this.buf.write(value, this.pos, "utf8");
  }

  /** Lower-case hex as bytes. */
  hex(field: number, value: string): void {
    if (value === "") return;
    const n = value.length >> 1;
    this.tag(field, 2);
    this.varint(n);
    this.ensure(n);
    const buf = this.buf;
    for (let i = 0; i < n; i++)
      buf[this.pos++] = (nibble(value.charCodeAt(2 * i)) << 4) | nibble(value.charCodeAt(2 * i + 1));
  }
}

const nibble = (c: number) => (c <= 0x39 ? c - 0x30 : c - 0x57);

/** Writes `value` as a varint at `at` (room already ensured); returns the position after it. */
function putVarint(buf: Buffer, at: number, value: number): number {
  let p = at;
  let v = value;
  while (v > 0x7f) {
    buf[p++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[p++] = v;
  return p;
}

function varintSize(value: number): number {
  let size = 1;
  for (let v = value; v > 0x7f; v = Math.floor(v / 0x80)) size++;
  return size;
}

function writeKeyValue(w: ProtoWriter, field: number, key: string, value: AttributeValue): void {
  const kv = w.begin(field);
  w.string(1, key);
  const any = w.begin(2);
  if (typeof value === "string") w.string(1, value);
  else if (typeof value === "boolean") {
    w.tag(2, 0);
    w.varint(value ? 1 : 0);
  } else if (Number.isSafeInteger(value)) w.int64(3, value);
  else w.double(4, value);
  w.end(any);
  w.end(kv);
}

function writeAttributes(w: ProtoWriter, field: number, attributes: AttributeMap): void {
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) writeKeyValue(w, field, key, value);
  }
}

function writeSpan(w: ProtoWriter, span: SpanRecord): void {
  const start = w.begin(2);
  w.hex(1, span.traceId);
  w.hex(2, span.spanId);
  if (span.traceState) w.string(3, span.traceState);
  w.hex(4, span.parentSpanId);
  w.string(5, span.name);
  w.tag(6, 0);
  w.varint(span.kind);
  w.timeNanos(7, span.startMs);
  w.timeNanos(8, span.endMs);
  writeAttributes(w, 9, span.attributes);
  if (span.statusCode !== 0) {
    const status = w.begin(15);
    if (span.statusMessage) w.string(2, span.statusMessage);
    w.tag(3, 0);
    w.varint(span.statusCode);
    w.end(status);
  }
  w.end(start);
}

/**
 * Spans encoded as they end, so a finished span is bytes in a buffer rather than an object kept alive until
 * the batch is sent (kept objects survive young-generation collections and cost far more to collect).
 * `take` wraps them into one `ExportTraceServiceRequest`: one resource, one scope.
 */
/** Room for a default batch (512 spans of Herald's size) without growing. */
const SPANS_BUFFER = 128 * 1024;

export class ProtobufBatch {
  /** `Resource` as field 1 of `ResourceSpans`, and `InstrumentationScope` as field 1 of `ScopeSpans`. */
  private readonly resource: Buffer;
  private readonly scope: Buffer;
  /** Bytes kept in front of the spans for what wraps them, so a batch is sent without copying it. */
  private readonly room: number;
  private w: ProtoWriter;
  count = 0;

  constructor(resource: AttributeMap, scope: string) {
    const r = new ProtoWriter();
    const res = r.begin(1);
    writeAttributes(r, 1, resource);
    r.end(res);
    this.resource = Buffer.from(r.buf.subarray(0, r.pos));
    const s = new ProtoWriter();
    const sc = s.begin(1);
    s.string(1, scope);
    s.end(sc);
    this.scope = Buffer.from(s.buf.subarray(0, s.pos));
    // Two tags and two lengths (at most 1 + 5 bytes each) around the resource and the scope.
    this.room = this.resource.length + this.scope.length + 12;
    this.w = this.fresh();
  }

  private fresh(): ProtoWriter {
    const w = new ProtoWriter(SPANS_BUFFER);
    w.pos = this.room;
    return w;
  }

  add(span: SpanRecord): void {
    writeSpan(this.w, span);
    this.count++;
  }

  /** The request body for every span added since the last `take`. */
  take(): Buffer {
    const { buf, pos } = this.w;
    this.w = this.fresh();
    this.count = 0;
    const scopeSpans = this.scope.length + (pos - this.room);
    const resourceSpans = this.resource.length + 1 + varintSize(scopeSpans) + scopeSpans;
    const head = 1 + varintSize(resourceSpans);
    // Written backwards from the spans: scope, its ScopeSpans tag and length, resource, the outer tag and length.
    let at = this.room - this.scope.length;
    this.scope.copy(buf, at);
    at -= 1 + varintSize(scopeSpans);
    putVarint(buf, at + 1, scopeSpans);
    buf[at] = (2 << 3) | 2;
    at -= this.resource.length;
    this.resource.copy(buf, at);
    at -= head;
    putVarint(buf, at + 1, resourceSpans);
    buf[at] = (1 << 3) | 2;
    return buf.subarray(at, pos);
  }
}

/** One `ExportTraceServiceRequest` in protobuf: one resource, one scope, `spans`. */
export function encodeProtobuf(resource: AttributeMap, scope: string, spans: readonly SpanRecord[]): Buffer {
  const batch = new ProtobufBatch(resource, scope);
  for (const span of spans) batch.add(span);
  return batch.take();
}

function jsonValue(value: AttributeValue): Record<string, AttributeValue> {
  if (typeof value === "string") return { stringValue: value };
  if (typeof value === "boolean") return { boolValue: value };
  return Number.isSafeInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

function jsonAttributes(attributes: AttributeMap) {
  const out: { key: string; value: Record<string, AttributeValue> }[] = [];
  for (const key in attributes) {
    const value = attributes[key];
    if (value !== undefined) out.push({ key, value: jsonValue(value) });
  }
  return out;
}

/** The same request in OTLP/JSON (`http/json`): ids in hex, times as decimal strings. */
export function encodeJson(resource: AttributeMap, scope: string, spans: readonly SpanRecord[]): string {
  return JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: jsonAttributes(resource) },
        scopeSpans: [
          {
            scope: { name: scope },
            spans: spans.map((span) => ({
              traceId: span.traceId,
              spanId: span.spanId,
              ...(span.parentSpanId ? { parentSpanId: span.parentSpanId } : {}),
              ...(span.traceState ? { traceState: span.traceState } : {}),
              name: span.name,
              kind: span.kind,
              startTimeUnixNano: String(nanos(span.startMs)),
              endTimeUnixNano: String(nanos(span.endMs)),
              attributes: jsonAttributes(span.attributes),
              status: {
                code: span.statusCode,
                ...(span.statusMessage ? { message: span.statusMessage } : {}),
              },
            })),
          },
        ],
      },
    ],
  });
}
