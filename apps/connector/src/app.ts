import { subjects } from "@herald/protocol";
import { createHandlerGuard, type Logger, type Nats, type Registry } from "@herald/service-kit";
import { createVerifier, type Verifier } from "./auth.js";
import { authOptions, type Config } from "./config.js";
import { Connection, type ConnectionDeps } from "./connection.js";
import { Connections } from "./connections.js";
import { deliveryParts, presenceHooks } from "./delivery-parts.js";
import { createEdgeServer } from "./edge-server.js";
import { connectorLifecycle } from "./lifecycle.js";
import { SendBudget } from "./send-budget.js";

export type ConnectorDeps = {
  nats: Nats;
  config: Config;
  logger: Logger;
  metrics: Registry;
  verify?: Verifier;
};

/** The WebSocket gateway: authenticates clients, delivers their users' messages and forwards their acks. */
export function createConnector(deps: ConnectorDeps) {
  const { nats, config, logger, metrics, verify } = deps;
  const s = subjects(config.HERALD_PREFIX);
  const guard = createHandlerGuard(logger, metrics);
  const verifier = verify ?? createVerifier(authOptions(config));
  const sendBudget = new SendBudget({
    perUser: config.HERALD_MAX_BUFFERED_BYTES_PER_USER,
    total: config.HERALD_MAX_BUFFERED_BYTES_TOTAL,
  });
  const connections = new Connections();
  const delivery = deliveryParts(deps, { s, guard, verifier, sendBudget, connections });
  const { m, presence } = delivery;
  const connectionDeps: ConnectionDeps = {
    verify: verifier,
    handshakeTimeoutMs: config.HERALD_HANDSHAKE_TIMEOUT,
    maxBufferedBytes: config.HERALD_MAX_BUFFERED_BYTES,
    sendBudget,
    logger,
    createSession: delivery.createSession,
    createChannels: delivery.createChannels,
    rateLimit: { perSecond: config.HERALD_RATE_LIMIT, burst: config.HERALD_RATE_BURST },
    ...presenceHooks(presence, m),
  };
  return connectorLifecycle({
    nats,
    config,
    logger,
    guard,
    s,
    connections,
    broadcast: delivery.broadcast,
    presence,
    acks: delivery.acks,
    replayRetries: delivery.replayRetries,
    createServer: (accepting) =>
      createEdgeServer({
        config,
        logger,
        verify: verifier,
        connections,
        onRefused: (reason) => m.refused.inc({ reason }),
        accepting,
        accept: (transport, identity) => connections.add(new Connection(transport, connectionDeps, identity)),
      }),
  });
}
