import type { AddressInfo } from "node:net";
import { type ServerType, serve } from "@hono/node-server";
import { Hono } from "hono";
import type { Registry } from "prom-client";

export type AdminServer = { port: number; close: () => Promise<void> };

export type AdminOptions = {
  port: number;
  metrics: Registry;
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
  app.get("/metrics", async (c) => {
    c.header("content-type", options.metrics.contentType);
    return c.body(await options.metrics.metrics());
  });
  return app;
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
