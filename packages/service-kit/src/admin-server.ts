import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import { Registry, type RegistryContentType } from "prom-client";

export type AdminServer = { port: number; close: () => Promise<void> };

export type AdminOptions = {
  port: number;
  metrics: Registry<RegistryContentType>;
  /** Why the service cannot do its job right now, or `undefined` when it can. */
  notReadyReason: () => string | undefined;
};

/** `/healthz`, `/readyz` and `/metrics`, as every service answers them (contract section 1). */
export function createAdminApp(options: Omit<AdminOptions, "port">): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const reason = options.notReadyReason();
    return reason === undefined ? c.json({ status: "ready" }) : c.json({ status: "not ready", reason }, 503);
  });
  const render = metricsRenderer(options.metrics);
  app.get("/metrics", async (c) => {
    const openMetrics = (c.req.header("accept") ?? "").includes("application/openmetrics-text");
    c.header(
      "content-type",
      openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE,
    );
    return c.body(await render(openMetrics));
  });
  return app;
}

/**
 * Renders `registry` as Prometheus text, or as OpenMetrics (with the latency histograms' exemplars) for a
 * scraper that asks for it. prom-client renders by the registry's content type and, for OpenMetrics, renames
 * counters (drops `_total` from their names): renders are serialised and the names restored after each, so a
 * Prometheus-text scrape never sees an OpenMetrics one's state.
 */
export function metricsRenderer(
  registry: Registry<RegistryContentType>,
): (openMetrics: boolean) => Promise<string> {
  let last: Promise<unknown> = Promise.resolve();
  const renderOpenMetrics = async () => {
    const metrics = registry.getMetricsAsArray() as unknown as { name: string }[];
    const names = metrics.map((m) => m.name);
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    try {
      return await registry.metrics();
    } finally {
      registry.setContentType(Registry.PROMETHEUS_CONTENT_TYPE);
      metrics.forEach((m, i) => {
        m.name = names[i] ?? m.name;
      });
    }
  };
  return (openMetrics) => {
    const next = last.then(() => (openMetrics ? renderOpenMetrics() : registry.metrics()));
    last = next.catch(() => undefined);
    return next;
  };
}

/** Listens on `port` (0 picks a free one) and resolves once it is bound. */
export function startAdminServer(options: AdminOptions): Promise<AdminServer> {
  const app = createAdminApp(options);
  return new Promise((resolve, reject) => {
    let server: ServerType | undefined;
    server = serve({ fetch: app.fetch, port: options.port, hostname: "0.0.0.0" }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server?.close(() => done());
            (server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
          }),
      });
    });
    server.once("error", reject);
  });
}
