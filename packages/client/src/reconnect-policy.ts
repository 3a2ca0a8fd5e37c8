/** `ws` reports a refused upgrade as "Unexpected server response: 401"; browsers give no detail. */
const REFUSED_UPGRADE = /\bresponse: 40[13]\b/;

export interface CloseFacts {
  code: number;
  /** The message of the socket's `error` event before it closed, if any. */
  socketError: string | undefined;
  terminalCloseCodes: readonly number[];
  authCloseCodes: readonly number[];
  tokenIsCallback: boolean;
  /** Auth rejections in a row before this one (reset by a welcome). */
  authFailures: number;
}

export interface CloseDecision {
  reconnect: boolean;
  /** Whether this close was an auth rejection (counts towards `authFailures`). */
  authRejected: boolean;
}

/**
 * What to do after a connection ends. Terminal codes (e.g. 4010, banned) stop for good. An auth rejection
 * (4001/4003, or an upgrade refused with 401/403) stops with a static token, which would only be refused
 * again; a token callback gets one retry with a fresh token. Anything else is worth a retry.
 *
 * @example
 * decideAfterClose({ code: 4001, tokenIsCallback: false, ... }) // { reconnect: false, authRejected: true }
 */
export function decideAfterClose(facts: CloseFacts): CloseDecision {
  if (facts.terminalCloseCodes.includes(facts.code)) return { reconnect: false, authRejected: false };
  const authRejected =
    facts.authCloseCodes.includes(facts.code) || REFUSED_UPGRADE.test(facts.socketError ?? "");
  if (!authRejected) return { reconnect: true, authRejected };
  return { reconnect: facts.tokenIsCallback && facts.authFailures === 0, authRejected };
}
