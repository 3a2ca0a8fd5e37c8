import { Header } from "@herald/protocol";
import type { MsgRequest } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import { type Ctx, intOption } from "../context.js";
import { CommandFailedError, UsageError } from "../errors.js";

type Letter = {
  seq: number;
  reason: string;
  subject: string;
  problem: string;
  bytes: number;
  data: Uint8Array;
  /** The rejected publish's trace (the router's span), so a replay continues it. */
  traceparent: string | undefined;
};

/** Dead letters in stream order, of one `--reason` or all, from `--seq` on, at most `--limit`. */
async function letters(ctx: Ctx): Promise<Letter[]> {
  const { s, jsm } = ctx;
  const reason = ctx.options.reason;
  if (reason !== undefined && !/^[a-z_]+$/.test(reason))
    throw new UsageError(`--reason ${reason}: not a reason`);
  const filter = reason === undefined ? s.deadAll : s.dead(reason);
  const limit = intOption(ctx.options.limit, "limit", 1000);
  const found: Letter[] = [];
  let seq = intOption(ctx.options.seq, "seq", 1);
  const only = ctx.options.seq !== undefined;
  while (found.length < limit) {
    // DEAD does not allow direct gets: the stream API reads it (operator traffic, not the hot path).
    // `next_by_subj` is a server field the client's type omits; the request body passes it through.
    const request = { seq, next_by_subj: filter } as unknown as MsgRequest;
    const m = await jsm.streams.getMessage(s.streams.dead, request).catch(() => null);
    if (!m) break;
    if (only && m.seq !== seq) break;
    found.push({
      seq: m.seq,
      reason: m.subject.slice(s.dead("").length),
      subject: m.header?.get(Header.DeadSubject) ?? "",
      problem: m.header?.get(Header.DeadReason) ?? "",
      bytes: m.data.length,
      data: m.data,
      traceparent: m.header?.get("traceparent") || undefined,
    });
    if (only) break;
    seq = m.seq + 1;
  }
  return found;
}

/** `dead list`: counts by reason, then each letter (seq, reason, original subject, why). */
export async function deadList(ctx: Ctx): Promise<void> {
  const info = await ctx.jsm.streams.info(ctx.s.streams.dead, { subjects_filter: ctx.s.deadAll });
  const byReason: Record<string, number> = {};
  for (const [subject, n] of Object.entries(info.state.subjects ?? {}))
    byReason[subject.slice(ctx.s.dead("").length)] = n;
  const found = await letters(ctx);
  const lines = [
    `by reason: ${
      Object.entries(byReason)
        .map(([r, n]) => `${r}=${n}`)
        .join(" ") || "none"
    }`,
    ...found.map((l) => `#${l.seq} ${l.reason} ${l.subject} (${l.bytes} bytes): ${l.problem}`),
  ];
  ctx.print(lines, { byReason, letters: found.map(({ data: _data, traceparent: _tp, ...rest }) => rest) });
}

/**
 * `dead replay`: publishes each selected letter's original payload to its original subject again (after the
 * cause was fixed), then removes it from the dead-letter stream unless `--keep`. The publish id
 * `dead-replay/<seq>` makes a repeated replay within the dedup window count once.
 */
export async function deadReplay(ctx: Ctx): Promise<void> {
  const found = await letters(ctx);
  const results: { seq: number; subject: string; ok: boolean; problem?: string }[] = [];
  for (const letter of found) {
    if (!letter.subject.startsWith(`${ctx.s.prefix}.send.`)) {
      results.push({ seq: letter.seq, subject: letter.subject, ok: false, problem: "no original subject" });
      continue;
    }
    try {
      const h = headers();
      if (letter.traceparent) h.set("traceparent", letter.traceparent);
      await ctx.js.publish(letter.subject, letter.data, { msgID: `dead-replay/${letter.seq}`, headers: h });
      if (!ctx.options.keep) await ctx.jsm.streams.deleteMessage(ctx.s.streams.dead, letter.seq, false);
      results.push({ seq: letter.seq, subject: letter.subject, ok: true });
    } catch (err) {
      results.push({ seq: letter.seq, subject: letter.subject, ok: false, problem: (err as Error).message });
    }
  }
  const failed = results.filter((r) => !r.ok);
  ctx.print(
    [
      ...results.map((r) => `#${r.seq} → ${r.subject}: ${r.ok ? "replayed" : `FAILED (${r.problem})`}`),
      `${results.length - failed.length} replayed, ${failed.length} failed`,
    ],
    { replayed: results.length - failed.length, failed: failed.length, results },
  );
  if (failed.length > 0)
    throw new CommandFailedError(`${failed.length} letters could not be replayed`, { cause: "reported" });
}
