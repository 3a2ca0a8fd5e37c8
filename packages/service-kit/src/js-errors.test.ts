import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { isConsumerNotFound, isStreamNameInUse, isWrongLastSequence, jetStreamCode } from "./js-errors.js";

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
});
