import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll } from "vitest";
import { type NatsServer, startNatsServer } from "./nats-server.js";

/** What `useNats` gives a test file once its `beforeAll` ran. */
export type NatsFixture = { readonly server: NatsServer; readonly nc: NatsConnection };

/**
 * A private nats-server without auth and one connection to it, for one test file: started before its tests
 * (then `setup`, e.g. the file's streams), closed and removed after them.
 *
 * @example
 * const nats = useNats(async (nc) => { await (await jetstreamManager(nc)).streams.add(config); });
 * it("…", async () => { await nats.nc.flush(); });
 */
export function useNats(setup?: (nc: NatsConnection) => Promise<void>): NatsFixture {
  let server: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer({ auth: false });
    nc = await connect({ servers: server.url, noAsyncTraces: true });
    await setup?.(nc);
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("useNats: used before its beforeAll ran");
    return value;
  };
  return {
    get server() {
      return started(server);
    },
    get nc() {
      return started(nc);
    },
  };
}
