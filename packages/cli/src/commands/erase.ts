import { userToken } from "@herald/protocol";
import { Kvm } from "@nats-io/kv";
import { type Ctx, requestJson } from "../context.js";
import { UsageError } from "../errors.js";
import { checkedUser } from "./publish.js";

/**
 * `erase <userId> --yes`: a data-protection erasure. Closes the user's connections (so presence forgets
 * them), purges the mailbox and deletes every device cursor. Receipts and presence events are not stored.
 */
export async function erase(ctx: Ctx, args: string[]): Promise<void> {
  const userId = checkedUser(args[0]);
  if (!ctx.options.yes)
    throw new UsageError(`erase deletes ${userId}'s messages and cursors for good: add --yes`);
  const { s } = ctx;
  const token = userToken(userId);

  let closed = 0;
  const command = JSON.stringify({ userId, code: 4011, reason: "account erased" });
  try {
    for await (const reply of await ctx.nc.requestMany(s.controlDisconnect, command, { maxWait: 1_000 })) {
      closed += (reply.json<{ closed?: number }>().closed ?? 0) | 0;
    }
  } catch {
    // No connector answered: nobody to disconnect.
  }

  const purge = await ctx.jsm.streams.purge(s.streams.mailbox, { filter: s.mailbox(token) });
  const kv = await new Kvm(ctx.js).open(s.buckets.cursors);
  const keys: string[] = [];
  for await (const key of await kv.keys(`${token}.*`)) keys.push(key);
  for (const key of keys) await kv.purge(key);

  const presence = await requestJson<{ online: boolean }>(ctx, s.presenceGet, { userId }).catch(
    () => undefined,
  );
  const result = {
    userId,
    connectionsClosed: closed,
    messagesPurged: purge.purged,
    cursorsDeleted: keys.length,
    online: presence?.online ?? null,
  };
  ctx.print(
    `${userId}: ${closed} connections closed, ${purge.purged} messages purged, ${keys.length} device cursors deleted`,
    result,
  );
}
