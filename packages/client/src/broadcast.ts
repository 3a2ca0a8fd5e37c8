/**
 * Broadcasts arrive as channel messages on this name without any subscription (every connection gets them);
 * `subscribe(BROADCAST, handler)` only registers the handler. Mirrors the protocol's `BROADCAST_CHANNEL`.
 * In a file of its own so the published types reach no `@herald/protocol` import (a devDependency).
 */
export const BROADCAST = "$broadcast";
