import { useNats } from "@herald/testkit/vitest";
import { jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it, vi } from "vitest";
import { logStreamWait, waitForStreams } from "./streams.js";

const nats = useNats();

describe("waitForStreams", () => {
  it("waits for a stream persistence has not made yet, saying so once, and returns once it exists", async () => {
    const jsm = await jetstreamManager(nats.nc);
    const told: string[] = [];
    const waiting = waitForStreams(jsm, ["LATER"], new AbortController().signal, (stream, reason) =>
      told.push(`${stream}: ${reason}`),
    );
    await new Promise((resolve) => setTimeout(resolve, 600));
    await jsm.streams.add({ name: "LATER", subjects: ["later.>"] });
    await waiting;
    expect(told).toEqual(["LATER: not created yet (persistence creates it)"]);
  });

  it("says when JetStream does not answer, and stops when aborted", async () => {
    // No JetStream API under this prefix: the library's "no responders" error, as before a cluster forms.
    const absent = await jetstreamManager(nats.nc, { apiPrefix: "$JS.absent.API", checkAPI: false });
    const abort = new AbortController();
    const told: string[] = [];
    const waiting = waitForStreams(absent, ["ANY"], abort.signal, (_stream, reason) => {
      told.push(reason);
      abort.abort();
    });
    await waiting;
    expect(told).toEqual(["JetStream is not answering yet"]);
  });

  it("logs a stream not made yet as news and any other reason as a warning with its error", () => {
    const logger = { info: vi.fn(), warn: vi.fn() };
    const log = logStreamWait(logger);
    log("MBOX", "not created yet (persistence creates it)", { code: 10059 });
    const denied = new Error("permissions violation");
    log("MBOX", "permissions violation", denied);
    expect(logger.info).toHaveBeenCalledWith(
      { stream: "MBOX" },
      "waiting for stream MBOX: not created yet (persistence creates it)",
    );
    expect(logger.warn).toHaveBeenCalledWith(
      { stream: "MBOX", err: denied },
      "waiting for stream MBOX: permissions violation",
    );
  });
});
