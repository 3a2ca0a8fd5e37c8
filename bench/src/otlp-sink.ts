import { type ChildProcess, fork } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An OTLP/HTTP receiver that drains each export request and answers it as a collector would (200 with an empty
 * ExportTraceServiceResponse), then discards it: what the services' exporters cost, not a collector's work. It
 * runs in its own process, so its work neither slows the bench's load generator nor counts as the services'.
 */
export type OtlpSink = {
  endpoint: string;
  pid: number | undefined;
  counts: () => Promise<{ requests: number; bytes: number }>;
  close: () => Promise<void>;
};

type SinkMessage = { port: number } | { requests: number; bytes: number };

export async function startOtlpSink(): Promise<OtlpSink> {
  const child = fork(new URL(import.meta.url), ["--serve"], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  // Each wait removes its exit listener once answered: a part asks for counts many times.
  const next = () =>
    new Promise<SinkMessage>((resolve, reject) => {
      const exited = (code: number | null) => reject(new Error(`the OTLP sink exited (${code})`));
      child.once("exit", exited);
      child.once("message", (m) => {
        child.off("exit", exited);
        resolve(m as SinkMessage);
      });
    });
  const ready = await next();
  if (!("port" in ready)) throw new Error("the OTLP sink did not report its port");
  return {
    endpoint: `http://127.0.0.1:${ready.port}`,
    pid: child.pid,
    counts: async () => {
      const reply = next();
      child.send("counts");
      const m = await reply;
      if ("port" in m) throw new Error("unexpected message from the OTLP sink");
      return m;
    },
    close: () => stop(child),
  };
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill();
  });
}

function serve(): void {
  const counts = { requests: 0, bytes: 0 };
  const server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => {
      counts.bytes += chunk.length;
    });
    req.on("end", () => {
      counts.requests++;
      // An empty body is an empty ExportTraceServiceResponse in protobuf, and `{}` is one in JSON.
      const json = String(req.headers["content-type"]).includes("json");
      res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
      res.end(json ? "{}" : undefined);
    });
  });
  process.on("message", () => process.send?.(counts));
  process.on("disconnect", () => process.exit(0));
  server.listen(0, "127.0.0.1", () => process.send?.({ port: (server.address() as AddressInfo).port }));
}

if (process.argv[2] === "--serve") serve();
