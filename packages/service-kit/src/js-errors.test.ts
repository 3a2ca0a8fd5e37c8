import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import {
  isConsumerNotFound,
  isMessageTooLarge,
  isStreamNameInUse,
  isSubjectFull,
  isWrongLastSequence,
  jetStreamCode,
} from "./js-errors.js";

const apiError = (err_code: number) =>
  new JetStreamApiError({ code: 400, err_code, description: "wrong last sequence: 3" });

describe("JetStream errors by code", () => {
  it("tells a lost compare-and-set from other failures", () => {
    expect(isWrongLastSequence(apiError(JetStreamApiCodes.StreamWrongLastSequence))).toBe(true);
    expect(isWrongLastSequence(new Error("wrong last sequence: 7"))).toBe(true);
    expect(isWrongLastSequence(apiError(JetStreamApiCodes.StreamNotFound))).toBe(false);
    expect(isWrongLastSequence(new Error("timeout"))).toBe(false);
    expect(isWrongLastSequence(undefined)).toBe(false);
  });
  it("reads the server's code", () => {
    expect(jetStreamCode(apiError(10014))).toBe(10014);
    expect(isConsumerNotFound(apiError(JetStreamApiCodes.ConsumerNotFound))).toBe(true);
    expect(jetStreamCode("nope")).toBeUndefined();
    expect(isStreamNameInUse(apiError(10058))).toBe(true);
    expect(isStreamNameInUse(apiError(JetStreamApiCodes.StreamNotFound))).toBe(false);
  });
  it("tells a full subject from a full stream, and a message over max_msg_size", () => {
    const full = (description: string) => new JetStreamApiError({ code: 503, err_code: 10077, description });
    expect(isSubjectFull(full("maximum messages per subject exceeded"))).toBe(true);
    expect(isSubjectFull(full("maximum bytes exceeded"))).toBe(false);
    expect(isMessageTooLarge(new JetStreamApiError({ code: 400, err_code: 10054, description: "big" }))).toBe(
      true,
    );
    expect(isMessageTooLarge(full("maximum bytes exceeded"))).toBe(false);
  });
});
