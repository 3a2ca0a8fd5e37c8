import { InvalidUserIdError } from "./errors.js";

/** A user id that is its own subject token. */
const PLAIN_ID = /^[A-Za-z0-9_-]{1,128}$/;
/** Marks an encoded token; never part of a plain id, legal in NATS subjects and KV keys. */
const ENCODED_MARK = "=";
const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** Characters no user id may contain: subject separators, wildcards, whitespace and controls. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
const FORBIDDEN = /[.*>\s\u0000-\u001f\u007f]/u;

export const MAX_USER_ID_LENGTH = 128;

/**
 * Why a user id is not acceptable, or `undefined` when it is.
 * Legal: 1 to 128 characters, none of `.`, `*`, `>`, whitespace or control characters.
 */
export function userIdProblem(userId: unknown): string | undefined {
  if (typeof userId !== "string") return "user id must be a string";
  // Most ids are plain (`[A-Za-z0-9_-]{1,128}`, legal as they are): this runs several times per message.
  if (PLAIN_ID.test(userId)) return undefined;
  if (userId.length === 0) return "user id must not be empty";
  // Code points never outnumber UTF-16 units, so only a long id needs counting.
  if (userId.length > MAX_USER_ID_LENGTH && [...userId].length > MAX_USER_ID_LENGTH)
    return `user id is longer than ${MAX_USER_ID_LENGTH} characters`;
  if (FORBIDDEN.test(userId))
    return "user id must not contain '.', '*', '>', whitespace or control characters";
  if (!userId.isWellFormed()) return "user id must be well-formed Unicode";
  return undefined;
}

/** The user id itself, or an `InvalidUserIdError` saying what is wrong with it. */
export function assertUserId(userId: unknown, what = "user id"): string {
  const problem = userIdProblem(userId);
  if (problem) throw new InvalidUserIdError(what === "user id" ? problem : problem.replace("user id", what));
  return userId as string;
}

export function isValidUserId(userId: unknown): userId is string {
  return userIdProblem(userId) === undefined;
}

/**
 * The subject token for a user id: the id itself when it is `[A-Za-z0-9_-]{1,128}`, otherwise `=` followed by
 * the base64url (unpadded) UTF-8 bytes. The mapping is one-to-one and never yields `.`, `*`, `>` or spaces.
 *
 * @example
 * userToken("alice") // "alice"
 * userToken("bob@example") // "=Ym9iQGV4YW1wbGU"
 */
export function userToken(userId: string): string {
  if (PLAIN_ID.test(userId)) return userId;
  const problem = userIdProblem(userId);
  if (problem) throw new InvalidUserIdError(problem);
  return ENCODED_MARK + Buffer.from(userId, "utf8").toString("base64url");
}

/**
 * The user id a subject token stands for. Throws for anything `userToken` cannot have produced, so two
 * tokens never name the same user.
 */
export function userIdFromToken(token: string): string {
  if (PLAIN_ID.test(token)) return token;
  if (!token.startsWith(ENCODED_MARK) || !BASE64URL.test(token.slice(1))) {
    throw new InvalidUserIdError(`'${token.slice(0, 64)}' is not a user token`);
  }
  const userId = Buffer.from(token.slice(1), "base64url").toString("utf8");
  // Re-encoding must give the same token: rejects padding tricks, invalid UTF-8 and encoded plain ids.
  let canonical: string;
  try {
    canonical = userToken(userId);
  } catch {
    throw new InvalidUserIdError(`'${token.slice(0, 64)}' encodes an illegal user id`);
  }
  if (canonical !== token)
    throw new InvalidUserIdError(`'${token.slice(0, 64)}' is not a canonical user token`);
  return userId;
}
