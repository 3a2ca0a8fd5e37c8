/**
 * Reads an OTLP/HTTP protobuf `ExportTraceServiceRequest` into the shape of its JSON form (ids in hex, times
 * as decimal strings), so the test receiver checks the services' default export (`http/protobuf`) with the
 * same code as a JSON one. Written from the OTLP proto definitions (trace/v1, common/v1, resource/v1); only the
 * fields Herald's spans use are kept.
 */

type Field = { no: number; wire: number; varint: bigint; bytes: Uint8Array };

/** The fields of one message, in order (repeated fields appear once per element). */
function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error("truncated varint");
      const byte = buf[pos++]!;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const field: Field = { no: key >>> 3, wire: key & 7, varint: 0n, bytes: new Uint8Array(0) };
    if (field.wire === 0) field.varint = varint();
    else if (field.wire === 1) {
      field.varint = view.getBigUint64(pos, true);
      field.bytes = buf.subarray(pos, pos + 8);
      pos += 8;
    } else if (field.wire === 2) {
      const length = Number(varint());
      if (pos + length > buf.length) throw new Error("truncated field");
      field.bytes = buf.subarray(pos, pos + length);
      pos += length;
    } else if (field.wire === 5) {
      field.varint = BigInt(view.getUint32(pos, true));
      pos += 4;
    } else throw new Error(`unsupported wire type ${field.wire}`);
    out.push(field);
  }
  return out;
}

const text = (f: Field) => new TextDecoder().decode(f.bytes);
const hex = (f: Field) => Buffer.from(f.bytes).toString("hex");
const all = (list: Field[], no: number) => list.filter((f) => f.no === no);
const first = (list: Field[], no: number) => list.find((f) => f.no === no);

type AnyValue = { stringValue?: string; intValue?: string; boolValue?: boolean; doubleValue?: number };

function anyValue(buf: Uint8Array): AnyValue {
  const [f] = fields(buf);
  if (!f) return {};
  if (f.no === 1) return { stringValue: text(f) };
  if (f.no === 2) return { boolValue: f.varint !== 0n };
  if (f.no === 3) return { intValue: BigInt.asIntN(64, f.varint).toString() };
  if (f.no === 4) return { doubleValue: Buffer.from(f.bytes).readDoubleLE(0) };
  return {};
}

function keyValues(list: Field[], no: number): { key: string; value: AnyValue }[] {
  return all(list, no).map((kv) => {
    const parts = fields(kv.bytes);
    const key = first(parts, 1);
    const value = first(parts, 2);
    return { key: key ? text(key) : "", value: value ? anyValue(value.bytes) : {} };
  });
}

function span(buf: Uint8Array) {
  const f = fields(buf);
  const status = first(f, 15);
  const statusFields = status ? fields(status.bytes) : [];
  const parent = first(f, 4);
  return {
    traceId: hex(first(f, 1)!),
    spanId: hex(first(f, 2)!),
    ...(parent ? { parentSpanId: hex(parent) } : {}),
    name: text(first(f, 5)!),
    kind: Number(first(f, 6)?.varint ?? 0n),
    startTimeUnixNano: String(first(f, 7)?.varint ?? 0n),
    endTimeUnixNano: String(first(f, 8)?.varint ?? 0n),
    attributes: keyValues(f, 9),
    events: all(f, 11).map((e) => {
      const ef = fields(e.bytes);
      return {
        timeUnixNano: String(first(ef, 1)?.varint ?? 0n),
        name: text(first(ef, 2)!),
        attributes: keyValues(ef, 3),
      };
    }),
    status: {
      code: Number(first(statusFields, 3)?.varint ?? 0n),
      message: first(statusFields, 2) ? text(first(statusFields, 2)!) : "",
    },
  };
}

/** The request as its OTLP JSON form would carry it. */
export function decodeTraceRequest(body: Uint8Array) {
  return {
    resourceSpans: all(fields(body), 1).map((rs) => {
      const rf = fields(rs.bytes);
      const resource = first(rf, 1);
      return {
        resource: { attributes: resource ? keyValues(fields(resource.bytes), 1) : [] },
        scopeSpans: all(rf, 2).map((ss) => ({ spans: all(fields(ss.bytes), 2).map((s) => span(s.bytes)) })),
      };
    }),
  };
}
