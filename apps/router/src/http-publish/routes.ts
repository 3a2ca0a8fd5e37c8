import {
  type ApiErrorReply,
  ErrorCode,
  HeraldError,
  HTTP_MSG_ID_HEADER,
  HttpPublishRoute,
  httpStatusOf,
} from "@herald/protocol";
import type { Counter, KeyedRateLimit, Logger } from "@herald/service-kit";
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { PublishAuth, Publisher } from "./auth.js";
import { openApiDocument } from "./openapi.js";
import { type HttpPublishDeps, type PublishTarget, publishOverHttp } from "./publish.js";

export type HttpPublishAppOptions = {
  deps: HttpPublishDeps;
  auth: PublishAuth;
  limit: KeyedRateLimit;
  logger: Logger;
  /** Requests by route and outcome (`accepted` or the error code). */
  requests: Counter<"route" | "outcome">;
};

type Env = { Variables: { publisher: Publisher } };

/**
 * The HTTP publish API's routes. Every publish passes, in order: authentication, the key's rate limit, the body
 * size limit (read no further than `HERALD_MAX_MESSAGE_BYTES`), then `publishOverHttp`. Every failure is answered
 * `{"error":{"code","message"}}` with the status of its code; nothing a request holds reaches the process.
 */
export function createHttpPublishApp(options: HttpPublishAppOptions): Hono<Env> {
  const { deps, logger } = options;
  const app = new Hono<Env>();
  const document = openApiDocument();

  const authenticate: MiddlewareHandler<Env> = async (c, next) => {
    c.set("publisher", await options.auth(c.req.header("authorization")));
    const waitMs = options.limit.take(c.get("publisher").key);
    if (waitMs > 0) {
      c.header("Retry-After", String(Math.max(1, Math.ceil(waitMs / 1000))));
      throw new HeraldError(
        ErrorCode.RateLimited,
        "rate limit reached for this key; retry after the Retry-After delay",
      );
    }
    await next();
  };
  const limitBody = bodyLimit({
    maxSize: deps.maxMessageBytes,
    onError: () => {
      throw new HeraldError(ErrorCode.TooLarge, `the body is larger than ${deps.maxMessageBytes} bytes`);
    },
  });

  const publish = (route: string, target: (c: Context<Env>) => PublishTarget) =>
    app.post(route, authenticate, limitBody, async (c) => {
      const payload = new Uint8Array(await c.req.arrayBuffer());
      const accepted = await publishOverHttp(
        deps,
        target(c),
        payload,
        c.req.header(HTTP_MSG_ID_HEADER),
        c.req.header("traceparent"),
      );
      options.requests.inc({ route, outcome: "accepted" });
      return c.json(accepted, 202);
    });

  publish(HttpPublishRoute.user, (c) => ({ kind: "user", userId: c.req.param("userId") ?? "" }));
  publish(HttpPublishRoute.users, (c) => ({ kind: "users", key: c.req.query("key") }));
  publish(HttpPublishRoute.channel, (c) => ({ kind: "channel", channel: c.req.param("channel") ?? "" }));
  publish(HttpPublishRoute.broadcast, () => ({ kind: "broadcast" }));
  app.get(HttpPublishRoute.openApi, (c) => c.json(document));

  app.notFound((c) =>
    reply(c, new HeraldError(ErrorCode.InvalidRequest, `no route ${c.req.method} ${c.req.path}`), 404),
  );
  app.onError((err, c) => {
    const error = HeraldError.fromUnknown(err);
    const route = c.req.routePath;
    options.requests.inc({ route, outcome: error.code });
    const publisher = c.get("publisher")?.key;
    if (error.code === ErrorCode.Internal) logger.error({ err, route, publisher }, "http publish failed");
    else logger.info({ route, publisher, code: error.code, problem: error.message }, "http publish refused");
    return reply(c, error);
  });
  return app;
}

function reply(c: Context, error: HeraldError, status = httpStatusOf(error.code)) {
  if (status === 401) c.header("WWW-Authenticate", 'Bearer realm="herald"');
  return c.json({ error: error.toJSON() } satisfies ApiErrorReply, status as ContentfulStatusCode);
}
