import { DirectMsgHeaders, type JetStreamManager, type StoredMsg } from "@nats-io/jetstream";
import { jetStreamCode } from "./js-errors.js";

/** What one batch direct get asks for. */
export type DirectBatchRead = {
  /** The first sequence to look at. */
  seq: number;
  /** Only messages of this subject. */
  subject: string;
  /** At most this many messages. */
  batch: number;
  /** About this many bytes at most (the server's count: it sends at least one message). */
  maxBytes: number;
  /** The whole read fails after this long. */
  timeoutMs: number;
};

export type DirectBatch = {
  messages: StoredMsg[];
  /** Whether the subject holds more messages after the last one returned (`Nats-Num-Pending`). */
  more: boolean;
};

/** A batch direct get that got no end of batch in time. */
export class DirectReadTimeoutError extends Error {
  override name = "DirectReadTimeoutError";
  readonly code = "read_timeout";
}

/** "No message": nothing of the subject is stored at or after `seq`. */
const NOT_FOUND = 404;

/**
 * Up to `batch` messages of one subject from `seq` on in one request: a batch direct get (nats-server 2.11),
 * which any replica of a stream with `allow_direct` answers. One round trip replaces one get per message.
 * The library's callback form is used because it also ends the reply subscription when the batch ends.
 */
export function readDirectBatch(
  jsm: JetStreamManager,
  stream: string,
  read: DirectBatchRead,
): Promise<DirectBatch> {
  return new Promise<DirectBatch>((resolve, reject) => {
    const messages: StoredMsg[] = [];
    const timer = setTimeout(
      () =>
        reject(new DirectReadTimeoutError(`batch direct get on ${stream} took over ${read.timeoutMs} ms`)),
      read.timeoutMs,
    );
    const settle = (err: Error | undefined) => {
      clearTimeout(timer);
      if (err && jetStreamCode(err) !== NOT_FOUND) reject(err);
      else resolve({ messages, more: pendingAfter(messages.at(-1)) > 0 });
    };
    jsm.direct
      .getBatch(stream, {
        seq: read.seq,
        next_by_subj: read.subject,
        batch: read.batch,
        max_bytes: read.maxBytes,
        callback: (done, msg) => {
          if (done) settle(done.err);
          else messages.push(msg);
        },
      })
      .catch((err: unknown) => settle(err instanceof Error ? err : new Error(String(err))));
  });
}

function pendingAfter(last: StoredMsg | undefined): number {
  const pending = last?.header.get(DirectMsgHeaders.NumPending);
  return pending ? Number(pending) : 0;
}
