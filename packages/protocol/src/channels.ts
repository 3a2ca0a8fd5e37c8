import { InvalidChannelError } from "./errors.js";
import { MAX_CHANNEL_LENGTH } from "./limits.js";

/** A channel name is one subject token: letters, digits, `_`, `-` and `:`; 1 to `MAX_CHANNEL_LENGTH` characters. */
const CHANNEL = new RegExp(`^[A-Za-z0-9_:-]{1,${MAX_CHANNEL_LENGTH}}$`);

/** The channel name broadcast messages carry in their frames; no user channel can be named like it. */
export const BROADCAST_CHANNEL = "$broadcast";

/** Why a channel name is not acceptable, or `undefined` when it is. */
export function channelProblem(channel: unknown): string | undefined {
  if (typeof channel !== "string") return "channel must be a string";
  if (channel.length === 0) return "channel must not be empty";
  if (channel.length > MAX_CHANNEL_LENGTH) return `channel is longer than ${MAX_CHANNEL_LENGTH} characters`;
  if (!CHANNEL.test(channel)) return "channel may only contain letters, digits, '_', '-' and ':'";
  return undefined;
}

/** Whether a `channels` claim entry (a name, or `prefix*`) allows `channel`. */
export function channelAllowed(patterns: readonly string[], channel: string): boolean {
  return patterns.some((pattern) =>
    pattern.endsWith("*") ? channel.startsWith(pattern.slice(0, -1)) : pattern === channel,
  );
}

/** Channels whose names start with this need a per-subscription token, whatever the connection's claims. */
export const PRIVATE_CHANNEL_PREFIX = "private-";

/** How long and how many messages one group of channels keeps. */
export type ChannelRetention = {
  /** Short stable id used in subjects and stream names. */
  id: string;
  /** `prefix*`, an exact name, or `*` for the default. */
  pattern: string;
  maxMessages: number;
  maxAgeMs: number;
};

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Broadcast messages live in their own group: kept 1 hour, at most 1,000 (for gap filling only). */
export const BROADCAST_RETENTION: ChannelRetention = {
  id: "bcast",
  pattern: BROADCAST_CHANNEL,
  maxMessages: 1_000,
  maxAgeMs: 3_600_000,
};
/** The subject token of the one broadcast "channel". */
export const BROADCAST_TOKEN = "all";

/** The retention for channels no rule names: 100 messages or 24 hours. */
export const DEFAULT_CHANNEL_RETENTION = "*=100/24h";

/**
 * Parses `HERALD_CHANNEL_RETENTION`: `;`-separated `pattern=maxMessages/maxAge` rules, e.g.
 * `chat-*=1000/24h;news=50/7d;*=100/1h`. A channel takes the rule with the longest matching pattern; `*` (added
 * from `DEFAULT_CHANNEL_RETENTION` when missing) matches every channel.
 *
 * @example
 * parseChannelRetention("chat-*=1000/24h")[0] // { id: "chat-", pattern: "chat-*", maxMessages: 1000, maxAgeMs: 86400000 }
 */
export function parseChannelRetention(text: string): ChannelRetention[] {
  const rules: ChannelRetention[] = [];
  const entries = text
    .split(";")
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (!entries.some((entry) => entry.startsWith("*="))) entries.push(DEFAULT_CHANNEL_RETENTION);
  for (const entry of entries) {
    const match = /^([A-Za-z0-9_:-]*\*?)=(\d+)\/(\d+)(ms|s|m|h|d)$/.exec(entry);
    if (!match || match[1] === "") {
      throw new InvalidChannelError(`retention rule '${entry}' is not like 'chat-*=1000/24h'`);
    }
    const pattern = match[1]!;
    const maxMessages = Number(match[2]);
    const maxAgeMs = Number(match[3]) * UNITS[match[4]!]!;
    if (maxMessages < 1 || maxAgeMs < 1_000) {
      throw new InvalidChannelError(`retention rule '${entry}' must keep at least 1 message for 1s`);
    }
    if (rules.some((rule) => rule.pattern === pattern)) {
      throw new InvalidChannelError(`retention pattern '${pattern}' appears twice`);
    }
    const id = ruleId(pattern);
    if (rules.some((rule) => rule.id === id)) {
      throw new InvalidChannelError(
        `retention patterns '${pattern}' and another one map to the same id '${id}'`,
      );
    }
    rules.push({ id, pattern, maxMessages, maxAgeMs });
  }
  return rules;
}

/** The rule for a channel: the longest pattern that matches it. */
export function retentionFor(rules: readonly ChannelRetention[], channel: string): ChannelRetention {
  if (channel === BROADCAST_CHANNEL) return BROADCAST_RETENTION;
  let best: ChannelRetention | undefined;
  for (const rule of rules) {
    const matches = rule.pattern.endsWith("*")
      ? channel.startsWith(rule.pattern.slice(0, -1))
      : rule.pattern === channel;
    if (matches && (!best || rule.pattern.length > best.pattern.length)) best = rule;
  }
  if (!best) throw new InvalidChannelError(`no retention rule matches '${channel}'`);
  return best;
}

/** A subject- and stream-name-safe id for a pattern: `chat-*` → `chat-`, `*` → `default`, `news` → `news_x`. */
function ruleId(pattern: string): string {
  if (pattern === "*") return "default";
  const base = pattern.endsWith("*") ? pattern.slice(0, -1) : `${pattern}_x`;
  return base.replace(/:/g, "_");
}
