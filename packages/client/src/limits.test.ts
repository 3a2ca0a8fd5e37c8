import { MAX_CHANNEL_LENGTH as SERVER_MAX } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { MAX_CHANNEL_LENGTH } from "./limits.js";

describe("the SDK's limits", () => {
  it("are the server's", () => {
    expect(MAX_CHANNEL_LENGTH).toBe(SERVER_MAX);
  });
});
