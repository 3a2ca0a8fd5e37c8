import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeTraceRequest } from "./otlp-protobuf.js";

/** One span as an OTLP/HTTP JSON export carries it (ids in hex), with its resource's `service.name`. */
export type ReceivedSpan = {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** Nanoseconds since the epoch. */
  start: bigint;
  end: bigint;
  events: { name: string; time: bigint; attributes: Record<string, string | number | boolean> }[];
  /** 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
};

type WireTime = string | number | undefined;
type WireSpan = Omit<ReceivedSpan, "service" | "attributes" | "start" | "end" | "events" | "status"> & {
  status?: { code?: number; message?: string };
  attributes?: KeyValue[];
  startTimeUnixNano?: WireTime;
  endTimeUnixNano?: WireTime;
  events?: { name: string; timeUnixNano?: WireTime; attributes?: KeyValue[] }[];
};

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};
type KeyValue = { key: string; value: AnyValue };
type ExportRequest = {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: WireSpan[] }[];
  }[];
};

function plainValue(value: AnyValue): string | number | boolean {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  return value.boolValue ?? "";
}

function attributesOf(list: KeyValue[] | undefined): Record<string, string | number | boolean> {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, plainValue(kv.value)]));
}

export type OtlpReceiver = {
  /** `http://127.0.0.1:<port>`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  endpoint: string;
  spans: ReceivedSpan[];
  /** Requests that were not OTLP/HTTP JSON trace exports (a wrong protocol shows up here). */
  rejected: string[];
  close: () => Promise<void>;
};

/**
 * A minimal OTLP/HTTP collector for tests: accepts trace exports on `/v1/traces` in protobuf (the default
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, `http/protobuf`) and JSON (`http/json`), and keeps every span.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const rejected: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const type = req.headers["content-type"] ?? "";
      const protobuf = type.includes("protobuf");
      if (req.url !== "/v1/traces" || !(protobuf || type.includes("json"))) {
        rejected.push(`${req.method} ${req.url} ${type}`);
        res.writeHead(404).end();
        return;
      }
      try {
        const raw = Buffer.concat(chunks);
        const body = (protobuf ? decodeTraceRequest(raw) : JSON.parse(raw.toString("utf8"))) as ExportRequest;
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attributesOf(rs.resource?.attributes)["service.name"] ?? "");
          for (const ss of rs.scopeSpans ?? []) {
            for (const span of ss.spans ?? []) {
              spans.push({
                service,
                name: span.name,
                traceId: span.traceId,
                spanId: span.spanId,
                parentSpanId: span.parentSpanId ?? "",
                kind: span.kind,
                attributes: attributesOf(span.attributes),
                start: BigInt(span.startTimeUnixNano ?? 0),
                end: BigInt(span.endTimeUnixNano ?? 0),
                events: (span.events ?? []).map((e) => ({
                  name: e.name,
                  time: BigInt(e.timeUnixNano ?? 0),
                  attributes: attributesOf(e.attributes),
                })),
                status: { code: span.status?.code ?? 0, message: span.status?.message ?? "" },
              });
            }
          }
        }
        // An empty ExportTraceServiceResponse, in the request's encoding.
        if (protobuf) res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
        else res.writeHead(200, { "content-type": "application/json" }).end("{}");
      } catch (err) {
        rejected.push(`unparsable export: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    rejected,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
