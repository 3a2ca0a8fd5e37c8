import {
  createNatsAuth,
  type NatsServer,
  type Stack,
  type StackOptions,
  startNatsServer,
  startStack,
} from "@herald/testkit";
import { afterAll, beforeAll } from "vitest";
import { type Backend, connectBackend } from "./backend.js";

/** `backend` is a backend (the `publisher` identity); `operator` may also read stream info and dead letters. */
export type StackWorld = { nats: NatsServer; stack: Stack; backend: Backend; operator: Backend };

/**
 * A private nats-server with Herald's NATS permissions, the four services (each as its own identity) and a
 * backend connection (the `publisher` identity) for one test file: started before its tests, torn down after
 * them. Read the fields inside tests (they are set by `beforeAll`).
 *
 * @example
 * const world = useStack({ envFor: { connector: { HERALD_HANDSHAKE_TIMEOUT: "1s" } } });
 * it("...", async () => { await world.backend.toUser("alice", { data: 1 }); });
 */
export function useStack(options: Omit<StackOptions, "nats"> = {}): StackWorld {
  const world = {} as StackWorld;
  beforeAll(async () => {
    // Persistence may manage exactly the channel streams of the groups the services are given.
    const channelRetention = options.env?.HERALD_CHANNEL_RETENTION;
    world.nats = await startNatsServer({
      auth: createNatsAuth({
        ...(options.env?.HERALD_PREFIX ? { prefix: options.env.HERALD_PREFIX } : {}),
        ...(channelRetention ? { channelRetention } : {}),
      }),
    });
    world.stack = await startStack({ ...options, nats: world.nats });
    world.backend = await connectBackend(world.nats);
    world.operator = await connectBackend(world.nats, { identity: "operator" });
  });
  afterAll(async () => {
    await world.backend?.close();
    await world.operator?.close();
    await world.stack?.stop();
    await world.nats?.dispose();
  });
  return world;
}
