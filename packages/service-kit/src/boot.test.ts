import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { telemetryRequested } from "./boot.js";

const dist = fileURLToPath(new URL("../dist/", import.meta.url));

/** Boots as a service's main.js does, and reports whether the SDK was loaded and tracing is on. */
async function bootIn(env: Record<string, string>): Promise<{ sdkLoaded: boolean; enabled: boolean }> {
  const script = `
    import { registerHooks } from "node:module";
    const seen = [];
    registerHooks({ resolve(spec, ctx, next) { const r = next(spec, ctx); seen.push(r.url); return r; } });
    const { bootTelemetry } = await import(${JSON.stringify(`${dist}boot.js`)});
    await bootTelemetry("test");
    const { tracingEnabled, shutdownTracing } = await import(${JSON.stringify(`${dist}index.js`)});
    console.log(JSON.stringify({ sdkLoaded: seen.some((u) => u.includes("sdk-node")), enabled: tracingEnabled() }));
    await shutdownTracing();`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", script], {
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
}

describe("bootTelemetry", () => {
  it("is requested by an OTLP endpoint or a traces exporter, and never when disabled", () => {
    expect(telemetryRequested({})).toBe(false);
    expect(telemetryRequested({ OTEL_SERVICE_NAME: "x" })).toBe(false);
    expect(telemetryRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(telemetryRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c:4318/v1/traces" })).toBe(true);
    expect(telemetryRequested({ OTEL_TRACES_EXPORTER: "console" })).toBe(true);
    expect(
      telemetryRequested({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c" }),
    ).toBe(false);
    expect(telemetryRequested({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c" })).toBe(
      false,
    );
  });

  it("does not load the SDK without OTEL_* variables, nor for OTLP over HTTP (the lean tracer)", async () => {
    expect(await bootIn({})).toEqual({ sdkLoaded: false, enabled: false });
    expect(await bootIn({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" })).toEqual({
      sdkLoaded: false,
      enabled: true,
    });
  }, 30_000);

  it("starts the SDK for what only it covers", async () => {
    expect(await bootIn({ OTEL_TRACES_EXPORTER: "console" })).toEqual({ sdkLoaded: true, enabled: true });
    expect(
      await bootIn({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9",
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      }),
    ).toEqual({ sdkLoaded: true, enabled: true });
  }, 30_000);
});
