import {
  ErrorCode,
  HeraldError,
  InvalidUserIdError,
  MAX_PRESENCE_BATCH,
  type PresenceBatchReply,
  type PresenceReply,
  userIdProblem,
} from "@herald/protocol";
import { z } from "zod";
import type { Registry } from "./registry.js";

const getSchema = z.union([
  z.strictObject({ userId: z.unknown() }),
  z.strictObject({ userIds: z.array(z.unknown()).min(1).max(MAX_PRESENCE_BATCH) }),
]);

/**
 * `<p>.api.presence.get`: `{userId}` → one `PresenceReply`; `{userIds}` → `{users}` in the same order.
 * Anything else throws a `HeraldError` (`invalid_request`, `invalid_user_id`), which becomes an error reply.
 *
 * @example
 * presenceGet(registry, { userIds: ["alice", "bob"] }) // { users: [{ userId: "alice", ... }, ...] }
 */
export function presenceGet(registry: Registry, request: unknown): PresenceReply | PresenceBatchReply {
  const parsed = getSchema.safeParse(request);
  if (!parsed.success) {
    throw new HeraldError(
      ErrorCode.InvalidRequest,
      `expected {"userId": string} or {"userIds": [string, ...]} with 1 to ${MAX_PRESENCE_BATCH} ids`,
    );
  }
  if ("userId" in parsed.data) return registry.get(checkedUserId(parsed.data.userId));
  const ids = parsed.data.userIds.map(checkedUserId);
  return { users: ids.map((id) => registry.get(id)) };
}

function checkedUserId(value: unknown): string {
  const problem = userIdProblem(value);
  if (problem) {
    const shown = typeof value === "string" ? `'${value.slice(0, 64)}': ` : "";
    throw new InvalidUserIdError(`${shown}${problem}`);
  }
  return value as string;
}
