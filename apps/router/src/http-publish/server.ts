import type { AddressInfo } from "node:net";
import { subjects } from "@herald/protocol";
import { Counter, KeyedRateLimit, type ServiceApp, type ServiceDeps } from "@herald/service-kit";
import { type ServerType, serve } from "@hono/node-server";
import type { Config } from "../config.js";
import { createPublishAuth } from "./auth.js";
import { createHttpPublishApp } from "./routes.js";

/** Listens on `port` (0 picks a free one); `close` stops taking requests and waits for those in flight. */
function listen(fetch: (request: Request) => Response | Promise<Response>, port: number) {
  return new Promise<{ port: number; close: () => Promise<void> }>((resolve, reject) => {
    const server: ServerType = serve({ fetch, port, hostname: "0.0.0.0" }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
          }),
      });
    });
    server.once("error", reject);
  });
}

/**
 * The router with the HTTP publish API beside it when `HERALD_HTTP_PUBLISH_PORT` is set: it listens once the router
 * has started and closes before the router drains, so every answered publish was acknowledged by JetStream.
 * The API publishes whether or not this replica holds the routing lease.
 */
export function withHttpPublish<App extends ServiceApp>(app: App, deps: ServiceDeps<Config>): App {
  const { config } = deps;
  const port = config.HERALD_HTTP_PUBLISH_PORT;
  if (port === undefined) return app;
  const logger = deps.logger.child({ component: "http-publish" });
  const http = createHttpPublishApp({
    deps: {
      s: subjects(config.HERALD_PREFIX),
      publisher: deps.nats.publisher,
      connected: deps.nats.connected,
      maxMessageBytes: config.HERALD_MAX_MESSAGE_BYTES,
      channelRetention: config.HERALD_CHANNEL_RETENTION,
    },
    auth: createPublishAuth({
      apiKeyHashes: [
        ...config.HERALD_HTTP_PUBLISH_API_KEY_HASHES,
        ...config.HERALD_HTTP_PUBLISH_API_KEYS_FILE,
      ],
      jwtSecret: config.HERALD_HTTP_PUBLISH_JWT_SECRET,
      audience: config.HERALD_HTTP_PUBLISH_JWT_AUDIENCE,
      issuer: config.HERALD_HTTP_PUBLISH_JWT_ISSUER,
    }),
    limit: new KeyedRateLimit(config.HERALD_HTTP_PUBLISH_RATE, config.HERALD_HTTP_PUBLISH_BURST),
    logger,
    requests: new Counter({
      name: "herald_router_http_publish_requests_total",
      help: "HTTP publish requests by route and outcome ('accepted' or the error code)",
      labelNames: ["route", "outcome"] as const,
      registers: [deps.metrics],
    }),
  });
  let server: Awaited<ReturnType<typeof listen>> | undefined;
  return {
    ...app,
    start: async () => {
      // Bound first: a port in use fails the start instead of leaving a router nobody can publish to.
      server = await listen(http.fetch, port);
      logger.info({ port: server.port }, "http publish listening");
      return app.start();
    },
    stop: async () => {
      await server?.close();
      await app.stop();
    },
  };
}
