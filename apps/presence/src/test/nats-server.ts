import { startNatsServer as startKitNatsServer, waitFor } from "@herald/testkit";

export { waitFor };

/**
 * A private JetStream-enabled nats-server for one test file (never the shared one on 4222): the launcher of
 * @herald/testkit, without Herald's NATS identities (presence tests connect without credentials).
 */
export type NatsServer = {
  url: string;
  port: number;
  stop: () => Promise<void>;
  /** kill -9 (a crash); `restart` starts it again on the same port and store. */
  kill: () => Promise<void>;
  restart: () => Promise<void>;
};

export async function startNatsServer(): Promise<NatsServer> {
  // nats-server's own default payload limit, as these tests were written against it.
  const server = await startKitNatsServer({ auth: false, maxPayload: "1MB" });
  return {
    url: server.url,
    port: server.port,
    kill: server.kill,
    restart: async () => {
      await server.kill();
      await server.restart();
    },
    stop: async () => {
      await server.kill();
      await server.dispose();
    },
  };
}
