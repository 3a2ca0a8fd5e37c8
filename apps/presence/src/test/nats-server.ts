import { startNatsServer as startKitNatsServer, waitUntil } from "@herald/testkit";

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

/** Polls `check` until it returns a value other than `undefined`/`false`, or fails at the deadline. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  message: string | (() => string),
  timeoutMs = 10_000,
): Promise<T> {
  // Boxed, so 0 and "" count as found (waitUntil wants a truthy value).
  const found = await waitUntil(
    async () => {
      const value = await check();
      return value === undefined || value === false ? undefined : { value };
    },
    { timeoutMs, intervalMs: 20, message },
  );
  return found.value;
}
