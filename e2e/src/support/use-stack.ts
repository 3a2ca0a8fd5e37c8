import { afterAll, beforeAll } from "vitest";
import {
  type NatsServer,
  type Stack,
  type StackOptions,
  startNatsServer,
  startStack,
} from "../fixtures/index.js";
import { type Backend, connectBackend } from "./backend.js";

export type StackWorld = { nats: NatsServer; stack: Stack; backend: Backend };

/**
 * A private nats-server, the four services and a backend connection for one test file: started before its
 * tests, torn down after them. Read the fields inside tests (they are set by `beforeAll`).
 *
 * @example
 * const world = useStack({ envFor: { connector: { HERALD_HANDSHAKE_TIMEOUT: "1s" } } });
 * it("...", async () => { await world.backend.toUser("alice", { data: 1 }); });
 */
export function useStack(options: Omit<StackOptions, "nats"> = {}): StackWorld {
  const world = {} as StackWorld;
  beforeAll(async () => {
    world.nats = await startNatsServer();
    world.stack = await startStack({ ...options, nats: world.nats });
    world.backend = await connectBackend(world.nats.url);
  });
  afterAll(async () => {
    await world.backend?.close();
    await world.stack?.stop();
    await world.nats?.dispose();
  });
  return world;
}
