import { type CursorState, cursorStateSchema, userIdFromToken, userToken } from "@herald/protocol";
import { isWrongLastSequence, type JsPublisher } from "@herald/service-kit";
import type { KV } from "@nats-io/kv";
import { emptyCursor } from "./cursor.js";

/** The KV key of a device's cursor: `<userToken>.<deviceToken>`. */
export function cursorKey(userId: string, deviceId: string): string {
  return `${userToken(userId)}.${userToken(deviceId)}`;
}

export class CursorConflictError extends Error {
  override name = "CursorConflictError";
  readonly code = "cursor_conflict";
}

/** Device cursors in a KV bucket, each change a compare-and-set so concurrent replicas never lose an ack. */
export class CursorStore {
  conflicts = 0;
  /**
   * What this replica last read or wrote per key. A write with a cached revision skips the read; if another
   * replica wrote meanwhile, the compare-and-set fails and the key is read again.
   */
  private readonly cache = new Map<string, { state: CursorState; revision: number; erased?: true }>();

  /**
   * @param write compare-and-set updates are KV puts published through `publisher` on `subject(key)`, with
   *   the expected revision: the same write as `kv.update`, without a request object per call.
   */
  constructor(
    private readonly kv: KV,
    private readonly write: { publisher: JsPublisher; subject: (key: string) => string },
    private readonly cacheSize = 100_000,
  ) {}

  private async compareAndSet(key: string, body: string, revision: number): Promise<number> {
    if (revision === 0) return this.kv.create(key, body);
    const ack = await this.write.publisher.publish(this.write.subject(key), body, {
      expectLastSubjectSequence: revision,
    });
    return ack.seq;
  }

  private remember(key: string, value: { state: CursorState; revision: number }): void {
    this.cache.delete(key);
    this.cache.set(key, value);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  async read(userId: string, deviceId: string): Promise<CursorState> {
    return (await this.readWithRevision(cursorKey(userId, deviceId))).state;
  }

  private async readWithRevision(
    key: string,
  ): Promise<{ state: CursorState; revision: number; erased?: true }> {
    const entry = await this.kv.get(key);
    // A delete or purge marker: the device was erased (`herald erase`) and has not connected since.
    if (entry && entry.operation !== "PUT") return { state: emptyCursor(), revision: 0, erased: true };
    if (!entry || entry.length === 0) return { state: emptyCursor(), revision: 0 };
    return { state: cursorStateSchema.parse(entry.json()), revision: entry.revision };
  }

  /**
   * Applies `change` to the stored cursor with compare-and-set, re-reading and retrying on conflict.
   * Returns the state written (or the unchanged state when `change` returns it as is). With `keepErased`, an
   * erased device's cursor stays erased: acks taken before the erase must not bring it back (a device that
   * connects again is registered anew by `ensure`).
   */
  async update(
    userId: string,
    deviceId: string,
    change: (state: CursorState) => Promise<CursorState> | CursorState,
    options: { keepErased?: boolean; attempts?: number } = {},
  ): Promise<CursorState> {
    const key = cursorKey(userId, deviceId);
    const attempts = options.attempts ?? 20;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const { state, revision, erased } = this.cache.get(key) ?? (await this.readWithRevision(key));
      if (erased && options.keepErased) return state;
      const next = await change(state);
      if (revision > 0 && unchanged(next, state)) return state;
      const body = JSON.stringify(next);
      try {
        const written = await this.compareAndSet(key, body, revision);
        this.remember(key, { state: next, revision: written });
        return next;
      } catch (err) {
        this.cache.delete(key);
        if (!isWrongLastSequence(err)) throw err;
        this.conflicts++;
      }
    }
    throw new CursorConflictError(`cursor ${key} kept changing under ${attempts} attempts`);
  }

  /** Registers a device (an empty cursor) the first time it connects, so cursor queries list it. */
  async ensure(userId: string, deviceId: string): Promise<void> {
    const key = cursorKey(userId, deviceId);
    if ((await this.readWithRevision(key)).revision > 0) return;
    try {
      await this.kv.create(key, JSON.stringify({ ...emptyCursor(), updatedAt: Date.now() }));
    } catch (err) {
      if (!isWrongLastSequence(err)) throw err;
    }
  }

  /** Every device cursor of a user. */
  async devices(userId: string): Promise<{ deviceId: string; state: CursorState }[]> {
    const token = userToken(userId);
    const keys: string[] = [];
    for await (const key of await this.kv.keys(`${token}.*`)) keys.push(key);
    const result: { deviceId: string; state: CursorState }[] = [];
    for (const key of keys.sort()) {
      const { state, revision } = await this.readWithRevision(key);
      if (revision === 0) continue;
      result.push({ deviceId: userIdFromToken(key.slice(token.length + 1)), state });
    }
    return result;
  }
}

function unchanged(a: CursorState, b: CursorState): boolean {
  return (
    a.floor === b.floor &&
    a.above.length === b.above.length &&
    a.above.every((entry, i) => entry[0] === b.above[i]?.[0])
  );
}
