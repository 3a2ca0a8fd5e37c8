import type { NatsAuth } from "./nats-auth.js";
import type { NatsCluster, NatsServer } from "./nats-server.js";

/**
 * The handle of started nodes, local or containers; `afterDispose` releases what they shared (a container
 * network) once every node is gone.
 */
export function natsClusterHandle(
  nodes: NatsServer[],
  auth: NatsAuth | undefined,
  afterDispose?: () => Promise<unknown>,
): NatsCluster {
  return {
    nodes,
    url: nodes.map((node) => node.url).join(","),
    auth,
    dispose: async () => {
      await Promise.all(nodes.map((node) => node.dispose()));
      await afterDispose?.();
    },
  };
}
