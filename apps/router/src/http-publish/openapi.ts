import {
  apiErrorSchema,
  HTTP_MSG_ID_HEADER,
  HttpPublishRoute,
  messageIdSchema,
  PARTITION_KEY_RULE,
  PUBLISH_SCOPE,
  PUBLISH_TOKEN_TYPE,
  publishAcceptedSchema,
  sendBodySchema,
  sendUsersBodySchema,
} from "@herald/protocol";
import { z } from "zod";

/** A protocol schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect); `data` (any JSON) becomes `{}`. */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    unrepresentable: "any",
    io,
  });
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({
  description,
  content: { "application/json": { schema: ref("Error") } },
});

/** `/v1/publish/user/:userId` → `/v1/publish/user/{userId}`. */
export const openApiPath = (route: string): string => route.replace(/:([A-Za-z]+)/g, "{$1}");

type PublishRoute = {
  route: string;
  summary: string;
  body: "SendBody" | "SendUsersBody";
  param?: string;
  query?: string;
};

const PUBLISH_ROUTES: PublishRoute[] = [
  {
    route: HttpPublishRoute.user,
    summary: "Publish to one user (send.user.<userToken>)",
    body: "SendBody",
    param: "userId",
  },
  {
    route: HttpPublishRoute.users,
    summary: "Publish to many users (send.users, or send.users.<key> with ?key=)",
    body: "SendUsersBody",
    query: "key",
  },
  {
    route: HttpPublishRoute.channel,
    summary: "Publish to a channel (send.channel.<channel>)",
    body: "SendBody",
    param: "channel",
  },
  { route: HttpPublishRoute.broadcast, summary: "Publish to everyone (send.broadcast)", body: "SendBody" },
];

const PARAM_DESCRIPTION: Record<string, string> = {
  userId: "1-128 characters without '.', '*', '>', whitespace or control characters (URL-encoded)",
  channel: "1-128 characters of [A-Za-z0-9_:-]",
  key: `Partition key, ${PARTITION_KEY_RULE}: messages with one key keep their order; keys are routed in parallel`,
};

/** A path parameter (required) or a query parameter (optional) described in `PARAM_DESCRIPTION`. */
function stringParameter(name: string, where: "path" | "query") {
  return {
    name,
    in: where,
    required: where === "path",
    description: PARAM_DESCRIPTION[name],
    schema: { type: "string" },
  };
}

function operation(route: PublishRoute) {
  return {
    summary: route.summary,
    security: [{ apiKey: [] }, { publishJwt: [PUBLISH_SCOPE] }],
    parameters: [
      ...(route.param ? [stringParameter(route.param, "path")] : []),
      ...(route.query ? [stringParameter(route.query, "query")] : []),
      {
        name: HTTP_MSG_ID_HEADER,
        in: "header",
        required: false,
        description: "Idempotency key: the same key within the dedup window is stored once (duplicate: true)",
        schema: jsonSchema(messageIdSchema, "input"),
      },
    ],
    requestBody: { required: true, content: { "application/json": { schema: ref(route.body) } } },
    responses: {
      "202": {
        description: "Stored by JetStream (answered only after the PubAck)",
        content: { "application/json": { schema: ref("PublishAccepted") } },
      },
      "400": errorResponse("The body, id, user id or channel is not valid (the dead-letter reasons' codes)"),
      "401": errorResponse("No, an invalid or an expired credential"),
      "403": errorResponse(`A JWT without the '${PUBLISH_SCOPE}' scope`),
      "413": errorResponse("Over HERALD_MAX_MESSAGE_BYTES"),
      "429": {
        ...errorResponse("Over the key's rate limit"),
        headers: { "Retry-After": { schema: { type: "integer" }, description: "Seconds to wait" } },
      },
      "503": errorResponse(
        "JetStream refused or did not answer (full store, no responders): nothing accepted",
      ),
    },
  };
}

/** The OpenAPI 3.1 document of the HTTP publish API, built from the protocol's zod schemas. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "Herald HTTP publish API",
      version: "1",
      description:
        "Publishing for backends that do not speak NATS: the same bodies, limits and ids as the send subjects.",
    },
    paths: Object.fromEntries(
      PUBLISH_ROUTES.map((route) => [openApiPath(route.route), { post: operation(route) }]),
    ),
    components: {
      schemas: {
        SendBody: jsonSchema(sendBodySchema, "input"),
        SendUsersBody: jsonSchema(sendUsersBodySchema, "input"),
        PublishAccepted: jsonSchema(publishAcceptedSchema, "output"),
        Error: jsonSchema(apiErrorSchema, "output"),
      },
      securitySchemes: {
        apiKey: { type: "http", scheme: "bearer", description: "An API key configured by its SHA-256 hash" },
        publishJwt: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: `HS256, typ '${PUBLISH_TOKEN_TYPE}', exp, sub, aud, scope '${PUBLISH_SCOPE}'`,
        },
      },
    },
  };
}
