/**
 * The server's channel-name limit. The SDK ships without the protocol package, so it keeps its own copy;
 * `limits.test.ts` fails when the two differ.
 */
export const MAX_CHANNEL_LENGTH = 128;
