import { JetStreamApiError } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { isMailboxFull } from "./mailbox-full.js";

const apiError = (code: number, err_code: number, description: string) =>
  new JetStreamApiError({ code, err_code, description });

describe("isMailboxFull", () => {
  it("is a write refused for the per-subject cap, and nothing else", () => {
    expect(isMailboxFull(apiError(503, 10077, "maximum messages per subject exceeded"))).toBe(true);
    // A full stream is retried by the router (what is stored drains), not dead-lettered.
    expect(isMailboxFull(apiError(503, 10077, "maximum bytes exceeded"))).toBe(false);
    expect(isMailboxFull(apiError(400, 10071, "wrong last sequence: 3"))).toBe(false);
    expect(isMailboxFull(new Error("maximum messages per subject exceeded"))).toBe(false);
    expect(isMailboxFull(undefined)).toBe(false);
  });
});
