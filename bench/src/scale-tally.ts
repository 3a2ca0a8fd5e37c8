// What each client of the scale part received: one broadcast and one message to its user, each tagged in its
// `data`. Kept as one byte per client so 20,000 clients in a load generator cost next to nothing.

/** `data.tag` of the scale part's broadcast and of its message to each user. */
export const SCALE_TAGS = { broadcast: "scale-b", targeted: "scale-t" } as const;

const BROADCAST = 1;
const TARGETED = 2;

export type ScaleReceived = {
  clients: number;
  /** Clients that received both messages. */
  both: number;
  missingBroadcast: number;
  missingTargeted: number;
  /** The same message again on a client (a redelivery the SDK's seen-ids would have hidden). */
  duplicates: number;
  /** `error` frames from the connector. */
  errorFrames: number;
};

type Frame = { type?: string; id?: string; channel?: string; data?: { tag?: unknown } };

export class ScaleTally {
  private seen = new Uint8Array(1024);
  private count = 0;
  private duplicates = 0;
  private errorFrames = 0;

  /** A new client; returns its index. */
  add(): number {
    if (this.count === this.seen.length) {
      const grown = new Uint8Array(this.seen.length * 2);
      grown.set(this.seen);
      this.seen = grown;
    }
    return this.count++;
  }

  /** Records a frame client `k` received; returns the ack frame to send for a user message, if any. */
  receive(k: number, text: string): string | undefined {
    if (text.includes('"type":"error"')) {
      this.errorFrames++;
      return undefined;
    }
    if (!text.includes('"type":"message"')) return undefined;
    const frame = JSON.parse(text) as Frame;
    const tag = frame.data?.tag;
    const bit = tag === SCALE_TAGS.broadcast ? BROADCAST : tag === SCALE_TAGS.targeted ? TARGETED : 0;
    const had = this.seen[k] ?? 0;
    if (bit !== 0 && (had & bit) !== 0) this.duplicates++;
    this.seen[k] = had | bit;
    // Channel messages (the broadcast) are not acked; user messages are, as the SDK does.
    return frame.channel === undefined && frame.id
      ? JSON.stringify({ type: "ack", ids: [frame.id] })
      : undefined;
  }

  snapshot(): ScaleReceived {
    let both = 0;
    let missingBroadcast = 0;
    let missingTargeted = 0;
    for (let k = 0; k < this.count; k++) {
      const bits = this.seen[k] ?? 0;
      if (bits === (BROADCAST | TARGETED)) both++;
      if ((bits & BROADCAST) === 0) missingBroadcast++;
      if ((bits & TARGETED) === 0) missingTargeted++;
    }
    return {
      clients: this.count,
      both,
      missingBroadcast,
      missingTargeted,
      duplicates: this.duplicates,
      errorFrames: this.errorFrames,
    };
  }

  clear(): void {
    this.seen.fill(0);
    this.count = 0;
    this.duplicates = 0;
    this.errorFrames = 0;
  }
}
