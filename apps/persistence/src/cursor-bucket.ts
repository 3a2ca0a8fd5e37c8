import type { Subjects } from "@herald/protocol";
import type { Nats } from "@herald/service-kit";
import { Kvm } from "@nats-io/kv";
import type { Config } from "./config.js";
import { CursorStore } from "./cursor-store.js";

/** Creates (or opens) the device cursor bucket with its limits, and the store that writes it. */
export async function openCursorStore(nats: Nats, config: Config, s: Subjects): Promise<CursorStore> {
  const kv = await new Kvm(nats.js).create(s.buckets.cursors, {
    history: 1,
    replicas: config.HERALD_REPLICAS,
    // A cursor untouched for longer than retention points only at messages that are gone.
    ttl: config.HERALD_RETENTION + 86_400_000,
    max_bytes: config.HERALD_CURSORS_MAX_BYTES,
  });
  await limitBucketBytes(nats, `KV_${s.buckets.cursors}`, config.HERALD_CURSORS_MAX_BYTES);
  return new CursorStore(kv, { publisher: nats.publisher, subject: s.cursorKeySubject });
}

/** `kvm.create` leaves an existing bucket's config as it is: its byte limit is set here. */
async function limitBucketBytes(nats: Nats, stream: string, maxBytes: number): Promise<void> {
  const info = await nats.jsm.streams.info(stream);
  if (info.config.max_bytes !== maxBytes) {
    await nats.jsm.streams.update(stream, { max_bytes: maxBytes });
  }
}
