import { z } from "zod";
import { ErrorCode } from "./errors.js";
import { messageIdSchema } from "./publish.js";

/**
 * The HTTP publish API (hosted by the router, `HERALD_HTTP_PUBLISH_PORT`): the same bodies, limits and ids as
 * the NATS send subjects, for backends that do not speak NATS. Request bodies are `sendBodySchema` and
 * `sendUsersBodySchema` (publish.ts); what is defined here is only what HTTP adds.
 */

/** Routes, in hono's path syntax. Each publishes to the send subject of the same name. */
export const HttpPublishRoute = {
  user: "/v1/publish/user/:userId",
  users: "/v1/publish/users",
  channel: "/v1/publish/channel/:channel",
  broadcast: "/v1/publish/broadcast",
  openApi: "/openapi.json",
} as const;

/** The HTTP request header that is the publish's `Nats-Msg-Id` (its idempotency key). */
export const HTTP_MSG_ID_HEADER = "Nats-Msg-Id";

/** `typ` header of a JWT that may publish over HTTP (explicit typing, as for connection tokens). */
export const PUBLISH_TOKEN_TYPE = "herald-publish+jwt";
/** The entry a publish JWT's `scope` claim (space-separated, RFC 8693) must hold. */
export const PUBLISH_SCOPE = "herald:publish";
/** Default `aud` a publish JWT must carry (`HERALD_HTTP_PUBLISH_JWT_AUDIENCE`). */
export const DEFAULT_PUBLISH_AUDIENCE = "herald-publish";

/** 202: JetStream acknowledged the publish; `id` is the id clients see, `duplicate` a repeat of a stored one. */
export const publishAcceptedSchema = z.object({ id: messageIdSchema, duplicate: z.boolean() });
export type PublishAccepted = z.infer<typeof publishAcceptedSchema>;

const errorCodes = Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]];

/** Every refused request: the `{"error":{"code","message"}}` shape of the NATS API replies (`ApiErrorReply`). */
export const apiErrorSchema = z.object({
  error: z.object({ code: z.enum(errorCodes), message: z.string() }),
});

/** The HTTP status of each error code an HTTP answer can carry (anything else is a 500). */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.InvalidJson]: 400,
  [ErrorCode.InvalidMessage]: 400,
  [ErrorCode.MissingData]: 400,
  [ErrorCode.InvalidUserId]: 400,
  [ErrorCode.InvalidChannel]: 400,
  [ErrorCode.TooDeep]: 400,
  [ErrorCode.InvalidRequest]: 400,
  [ErrorCode.InvalidSubject]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.TokenExpired]: 401,
  [ErrorCode.Forbidden]: 403,
  [ErrorCode.TooLarge]: 413,
  [ErrorCode.RateLimited]: 429,
  [ErrorCode.MailboxFull]: 507,
  [ErrorCode.Unavailable]: 503,
};

export function httpStatusOf(code: ErrorCode): number {
  return HTTP_STATUS[code] ?? 500;
}
