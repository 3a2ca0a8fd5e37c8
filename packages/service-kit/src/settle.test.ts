import { useNats } from "@herald/testkit/vitest";
import { JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { PermissionViolationError, TimeoutError } from "@nats-io/transport-node";
import { describe, expect, it, vi } from "vitest";
import { isStreamNotFound } from "./js-errors.js";
import { isUnsettled, untilSettled } from "./settle.js";

const nats = useNats();

const apiError = (err_code: number, code = 503) =>
  new JetStreamApiError({ code, err_code, description: `error ${err_code}` });

describe("isUnsettled", () => {
  it("is true for a request nobody answered in time and for an API nobody serves", async () => {
    const silent = nats.nc.subscribe("settle.silent");
    const timedOut = await nats.nc.request("settle.silent", "", { timeout: 50 }).catch((e: unknown) => e);
    silent.unsubscribe();
    expect(isUnsettled(timedOut)).toBe(true);
    // A JetStream API with no responders (no meta leader yet, or JetStream not up): the library's JetStreamNotEnabled.
    const absent = await jetstreamManager(nats.nc, { apiPrefix: "$JS.settle.API", checkAPI: false });
    const unserved = await absent.streams.info("ANY").catch((e: unknown) => e);
    expect(isUnsettled(unserved)).toBe(true);
    for (const code of [10005, 10008, 10009]) expect(isUnsettled(apiError(code))).toBe(true);
  });

  it("is false for a refusal: a missing stream, a bad config, a permission, anything else", async () => {
    const jsm = await jetstreamManager(nats.nc);
    const missing = await jsm.streams.info("SETTLE_MISSING").catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(JetStreamApiError);
    expect(isUnsettled(missing)).toBe(false);
    expect(isUnsettled(apiError(10058, 400))).toBe(false);
    expect(isUnsettled(new PermissionViolationError("no", "publish", "$JS.API.>"))).toBe(false);
    expect(isUnsettled(new Error("timeout"))).toBe(false);
    expect(isUnsettled(undefined)).toBe(false);
  });
});

describe("untilSettled", () => {
  it("asks again while unsettled, warns once, and returns the answer", async () => {
    const warn = vi.fn();
    let calls = 0;
    const answer = await untilSettled(
      async () => {
        calls++;
        if (calls < 3) throw new TimeoutError();
        return "ready";
      },
      { what: "the test step", logger: { warn } },
    );
    expect(answer).toBe("ready");
    expect(calls).toBe(3);
    expect(warn).toHaveBeenCalledOnce();
    expect(warn.mock.calls[0]?.[1]).toContain("the test step");
  });

  it("throws a refusal at once", async () => {
    let calls = 0;
    const refused = untilSettled(
      async () => {
        calls++;
        throw apiError(10059, 404);
      },
      { what: "refused" },
    );
    await expect(refused).rejects.toBeInstanceOf(JetStreamApiError);
    expect(calls).toBe(1);
  });

  it("asks again on an error the step says is passing, and only on that one", async () => {
    let calls = 0;
    const notYet = async () => {
      calls++;
      if (calls < 3) throw apiError(10059, 404);
      if (calls === 3) throw apiError(10058, 400);
      return "created";
    };
    await expect(
      untilSettled(notYet, { what: "not found yet", alsoRetry: isStreamNotFound }),
    ).rejects.toBeInstanceOf(JetStreamApiError);
    // Two "not found" answers asked again, the refusal that followed thrown.
    expect(calls).toBe(3);
    // A step that does not say so gets the first "not found" thrown at once.
    calls = 0;
    await expect(untilSettled(notYet, { what: "not found", alsoRetry: () => false })).rejects.toBeInstanceOf(
      JetStreamApiError,
    );
    expect(calls).toBe(1);
  });

  it("throws the last unsettled error past its deadline or once aborted", async () => {
    let calls = 0;
    const timingOut = async () => {
      calls++;
      throw new TimeoutError();
    };
    await expect(untilSettled(timingOut, { what: "late", deadlineMs: 300 })).rejects.toBeInstanceOf(
      TimeoutError,
    );
    expect(calls).toBeGreaterThan(1);
    calls = 0;
    const abort = new AbortController();
    const aborted = untilSettled(timingOut, { what: "aborted", signal: abort.signal });
    abort.abort();
    await expect(aborted).rejects.toBeInstanceOf(TimeoutError);
    expect(calls).toBeLessThanOrEqual(2);
  });
});
