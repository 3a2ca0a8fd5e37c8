import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import type { ConnectionOptions } from "@nats-io/transport-node";
import { Hono } from "hono";
import { bundleSdk } from "../../scripts/lib/sdk-bundle.mjs";
import { connectBackend, type DemoBackend } from "./backend.js";
import { DemoRequestError, mintDevToken, parseTokenRequest } from "./tokens.js";

export { DemoRequestError } from "./tokens.js";

export type DemoServerOptions = {
  /** The publisher identity's NATS options (servers, user, password, inboxPrefix), as a backend has them. */
  nats: ConnectionOptions;
  /** The connector's public `ws://…/ws`, handed to the page. */
  wsUrl: string;
  /** The dev HS256 secret the connector verifies tokens with. */
  jwtSecret: string;
  prefix?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Default 127.0.0.1: it mints tokens for anyone who asks, so it stays on this machine. */
  hostname?: string;
  /** Lifetime of the tokens it mints. Default 300 s. */
  tokenTtlSeconds?: number;
};

export type DemoServer = { url: string; port: number; close: () => Promise<void> };

const STATIC: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};
const publicDir = new URL("../public/", import.meta.url);

/** The page, the SDK bundle and the dev-only API behind it. */
export function demoApp(options: DemoServerOptions, backend: DemoBackend): Hono {
  const app = new Hono();
  const ttl = options.tokenTtlSeconds ?? 300;
  let sdk: Promise<string> | undefined;
  for (const [path, { file, type }] of Object.entries(STATIC)) {
    app.get(path, async (c) =>
      c.body(await readFile(new URL(file, publicDir)), 200, { "content-type": type }),
    );
  }
  app.get("/herald-client.js", async (c) => {
    sdk ??= bundleSdk().then((bundle) => bundle.code);
    return c.body(await sdk, 200, { "content-type": "text/javascript; charset=utf-8" });
  });
  app.get("/api/config", (c) => c.json({ wsUrl: options.wsUrl, tokenTtlSeconds: ttl }));
  app.post("/api/token", async (c) =>
    c.json(await mintDevToken(parseTokenRequest(await body(c.req.raw)), options.jwtSecret, ttl)),
  );
  app.post("/api/publish/user", async (c) => {
    const { userId, data } = await body(c.req.raw);
    return c.json(await backend.publishToUser(String(userId), data));
  });
  app.post("/api/publish/channel", async (c) => {
    const { channel, data } = await body(c.req.raw);
    return c.json(await backend.publishToChannel(String(channel), data));
  });
  app.get("/api/presence", async (c) => {
    const userIds = (c.req.query("userIds") ?? "").split(",").filter((id) => id !== "");
    return c.json(await backend.presence(userIds));
  });
  app.onError((error, c) =>
    error instanceof DemoRequestError
      ? c.json({ error: { code: error.code, message: error.message } }, 400)
      : c.json({ error: { code: "backend_failed", message: error.message } }, 502),
  );
  return app;
}

async function body(request: Request): Promise<Record<string, unknown>> {
  try {
    const value: unknown = await request.json();
    if (value && typeof value === "object" && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {}
  throw new DemoRequestError("the body must be a JSON object");
}

/**
 * Starts the demo page's server: connects to NATS as the publisher, then listens.
 *
 * @example
 * const demo = await startDemoServer({ nats: natsClientOptions(nats, "publisher"), wsUrl, jwtSecret });
 * console.log(demo.url);
 */
export async function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const backend = await connectBackend(options.nats, options.prefix);
  const app = demoApp(options, backend);
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname }, (info: AddressInfo) => {
      resolve({
        url: `http://${hostname}:${info.port}/`,
        port: info.port,
        close: async () => {
          await new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
          });
          await backend.close().catch(() => {});
        },
      });
    });
    // A port in use: close the NATS connection and say so, rather than crash the caller.
    server.once("error", (error) => {
      void backend.close().catch(() => {});
      reject(error);
    });
  });
}
