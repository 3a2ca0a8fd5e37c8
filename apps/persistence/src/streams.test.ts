import { subjects } from "@herald/protocol";
import { useNats } from "@herald/testkit/vitest";
import { type JetStreamManager, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.js";
import { ensureStreams, settledPartitionCount, streamConfigs } from "./streams.js";

let jsm: JetStreamManager;
const nats = useNats(async (nc) => {
  jsm = await jetstreamManager(nc);
});

async function install(prefix: string, partitions: number) {
  const s = subjects(prefix);
  const config = loadConfig({ HERALD_PREFIX: prefix, HERALD_ROUTE_PARTITIONS: String(partitions) });
  await ensureStreams(jsm, streamConfigs(s, config), s.streams.intake);
  return s;
}

describe("the intake's partitions", () => {
  it("are set by HERALD_ROUTE_PARTITIONS: channels and keyed send.users stored by partition", async () => {
    const s = await install("parta", 4);
    const info = await jsm.streams.info(s.streams.intake);
    expect(info.config.subject_transform).toEqual(s.intakeTransform(4));
    const js = jetstream(nats.nc);
    await js.publish(s.sendChannel("news"), '{"data":1}');
    await js.publish(s.sendUsersKeyed("tenant-7"), '{"data":1,"userIds":["a"]}');
    await js.publish(s.sendUsers, '{"data":1,"userIds":["a"]}');
    const stored = (await jsm.streams.info(s.streams.intake, { subjects_filter: ">" })).state.subjects ?? {};
    const names = Object.keys(stored).sort();
    expect(names).toHaveLength(3);
    expect(names.filter((name) => name.startsWith("parta.route."))).toHaveLength(2);
    expect(names).toContain(s.sendUsers);
    expect(names.map((name) => s.sentSubject(name)).sort()).toEqual(
      [s.sendChannel("news"), s.sendUsers, s.sendUsersKeyed("tenant-7")].sort(),
    );
  });

  it("change only while the partitions hold nothing, so no key's messages are split over two", async () => {
    const s = await install("partb", 8);
    expect(await settledPartitionCount(jsm, s, 4)).toEqual({ count: 4 });
    await jetstream(nats.nc).publish(s.sendChannel("news"), '{"data":1}');
    expect(await settledPartitionCount(jsm, s, 4)).toEqual({ count: 8, held: { current: 8, pending: 1 } });
    expect(await settledPartitionCount(jsm, s, 8)).toEqual({ count: 8 });
    await jsm.streams.purge(s.streams.intake);
    expect(await settledPartitionCount(jsm, s, 4)).toEqual({ count: 4 });
    // No intake yet: whatever is wanted.
    expect(await settledPartitionCount(jsm, subjects("partc"), 2)).toEqual({ count: 2 });
  });
});
