import { constants, deflateRawSync } from "node:zlib";
import type { UserMessageFrame } from "@herald/protocol";

/**
 * Realistic JSON for the compression part: `x` padding (what the other parts send) deflates to almost nothing
 * and would flatter compression. These bodies mix repeated keys, words, names, ids, URLs and timestamps, as
 * application notifications do; they are pseudo-random but the same in every run (seeded).
 */

const WORDS = (
  "the a to and of in for on with your you we new from this that is are was be it at by as has have update " +
  "order shipped delivered review comment reply replied mentioned liked shared posted invited joined team " +
  "project task due today tomorrow week meeting call invoice payment received refund account security alert " +
  "login device password changed settings report weekly summary draft approved rejected pending request " +
  "release build failed passed deploy staging production server database latency error warning resolved " +
  "ticket customer support agent assigned priority high low medium label milestone sprint board card moved " +
  "photo video album event calendar reminder starts ends location office remote room booked cancelled " +
  "price discount offer cart item items quantity stock available back soon tracking number carrier estimated " +
  "arrival thanks please check details below more about here link open view see all read unread message thread"
).split(" ");
const FIRST =
  "Ana Ben Chloé Dmitri Elif Farah Gustavo Hana Ivan Júlia Kenji Lea Mateo Nadia Omar Priya Quentin Rosa Sven Tariq Uma Viktor Wen Yusuf Zoë".split(
    " ",
  );
const LAST =
  "Souza Okafor Müller Nakamura Kowalski Haddad Rossi Lindqvist Dubois Patel Novak García Kim O'Brien Ivanova Moreau Schmidt Tanaka Silva Yilmaz".split(
    " ",
  );
const KINDS = ["comment", "mention", "like", "follow", "invite", "assign", "review", "order", "payment"];

/** A small deterministic PRNG (mulberry32): the same payloads in every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
const int = (r: Rand, below: number) => Math.floor(r() * below);
const hex = (r: Rand, chars: number) => Array.from({ length: chars }, () => int(r, 16).toString(16)).join("");
const sentence = (r: Rand, words: number) => {
  const text = Array.from({ length: words }, () => pick(r, WORDS)).join(" ");
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
};
const iso = (r: Rand) =>
  new Date(Date.UTC(2026, 11, 1 + int(r, 5), int(r, 24), int(r, 60), int(r, 60))).toISOString();
const person = (r: Rand) => {
  const id = `u_${100_000 + int(r, 900_000)}`;
  return {
    id,
    name: `${pick(r, FIRST)} ${pick(r, LAST)}`,
    avatar: `https://cdn.example.com/a/${hex(r, 16)}.jpg`,
  };
};

/** About `targetBytes` of JSON: a short notification when that is its size or less, else a digest of entries up to it. */
export function realisticContent(seed: number, targetBytes: number): Record<string, unknown> {
  const r = rng(seed);
  const kind = pick(r, KINDS);
  const base: Record<string, unknown> = {
    kind,
    title: sentence(r, 3 + int(r, 4)),
    actor: { id: `u_${100_000 + int(r, 900_000)}`, name: `${pick(r, FIRST)} ${pick(r, LAST)}` },
    url: `/${kind}s/${int(r, 100_000)}`,
    at: iso(r),
  };
  if (JSON.stringify(base).length >= targetBytes - 40) return base;
  const entries: Record<string, unknown>[] = [];
  const content = { ...base, summary: sentence(r, 12 + int(r, 10)), unread: 1 + int(r, 40), entries };
  // Whole entries until the size is reached: the last one may overshoot by one entry (~300 bytes).
  while (JSON.stringify(content).length < targetBytes - 200) {
    entries.push({
      id: `${hex(r, 8)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 12)}`,
      author: person(r),
      text: sentence(r, 8 + int(r, 18)),
      at: iso(r),
      reactions: { like: int(r, 50), reply: int(r, 12) },
      link: `https://app.example.com/${pick(r, KINDS)}/${int(r, 1_000_000)}?ref=notify`,
    });
  }
  return content;
}

/** What `data` carries in this part: the bench's stamps (phase, index, publish times) and the content. */
export type RealisticData = { ph: number; i: number; t: number; w: number; p: string } & Record<
  string,
  unknown
>;

/**
 * `variants` distinct contents of about `bodyBytes` each (the published `{id, data}` body); message `i` uses
 * variant `i % variants`. Without context takeover each frame is compressed alone, so repeating variants
 * across messages does not help compression, and building them once keeps the publisher's CPU out of the way.
 */
export function realisticPayloads(bodyBytes: number, variants = 64): Record<string, unknown>[] {
  // The body wraps `data` in `{"id":"<run>-<phase>-<index>","data":{...,"ph":..,"i":..,"t":..,"w":..,"p":""}}`.
  const overhead = 110;
  return Array.from({ length: variants }, (_, k) =>
    realisticContent(bodyBytes * 7919 + k, Math.max(0, bodyBytes - overhead)),
  );
}

/**
 * Deflated size ÷ raw size of `frames` as permessage-deflate sends each one alone (raw deflate, 15 window bits,
 * zlib's default level and memory, the final 4 bytes of the sync flush dropped): what compression on should save
 * on the wire for these bodies, to check the measured bytes against.
 */
export function deflateRatio(frames: string[]): number {
  let raw = 0;
  let deflated = 0;
  for (const frame of frames) {
    const bytes = Buffer.byteLength(frame);
    raw += bytes;
    deflated += deflateRawSync(frame, { finishFlush: constants.Z_SYNC_FLUSH }).length - 4;
  }
  return raw === 0 ? Number.NaN : Math.round((deflated / raw) * 1000) / 1000;
}

/** A `message` frame as the connector sends it, for `deflateRatio` and the frame size. */
export function sampleFrame(id: string, data: unknown): string {
  const frame: UserMessageFrame = { type: "message", id, seq: 123_456, data, ts: Date.now() };
  return JSON.stringify(frame);
}
