import { describe, expect, it } from "vitest";
import { fanoutData, rawFrame, readFanoutData } from "./fanout-frames.js";
import { FanoutTally, mergeFanout } from "./fanout-tally.js";

describe("fan-out frames", () => {
  it("reads the data of the raw frame and of a connector-shaped channel frame", () => {
    const data = { ph: 2, n: 7, t: 1234.567 };
    expect(readFanoutData(rawFrame("f-x-2-7", 9, data).toString())).toEqual(data);
    const connector = JSON.stringify({
      type: "message",
      id: "f-x-2-7",
      channel: "fan-1",
      offset: 9,
      data,
      ts: 1,
    });
    expect(readFanoutData(connector)).toEqual(data);
  });

  it("ignores other frames and malformed data", () => {
    expect(readFanoutData('{"type":"subscribed","channel":"fan-1","recovered":false}')).toBeUndefined();
    expect(readFanoutData('{"type":"message","id":"a","data":{"ph":1}}')).toBeUndefined();
    expect(readFanoutData('{"type":"message","id":"a","data":{"ph":1,')).toBeUndefined();
  });

  it("stamps data on the monotonic clock in ms", () => {
    const before = Number(process.hrtime.bigint() / 1000n) / 1000;
    const data = fanoutData(1, 3);
    expect(data.t).toBeGreaterThanOrEqual(before);
    expect(data.t - before).toBeLessThan(1_000);
  });
});

describe("FanoutTally", () => {
  it("counts first deliveries per client, repeats, skips and stale frames", () => {
    const tally = new FanoutTally(2);
    tally.reset(5, 4, true);
    tally.receive(0, { ph: 5, n: 0, t: 1 }, 3_000);
    tally.receive(0, { ph: 5, n: 0, t: 1 }, 3_100); // repeat
    tally.receive(0, { ph: 5, n: 3, t: 2 }, 4_000); // skipped 1 and 2
    tally.receive(1, { ph: 5, n: 0, t: 1 }, 5_000);
    tally.receive(1, { ph: 4, n: 1, t: 1 }, 5_500); // other phase
    const s = tally.snapshot(true);
    expect(s).toMatchObject({ deliveries: 3, duplicates: 1, skipped: 2, stale: 1, lastUs: 5_000 });
    expect([...(s.latencies ?? [])]).toEqual([2_000, 2_000, 4_000]);
    const merged = mergeFanout([s, { ...s, lastUs: 9_000 }]);
    expect(merged).toMatchObject({ clients: 4, deliveries: 6, lastUs: 9_000 });
    expect(merged.latencies.length).toBe(6);
  });
});
