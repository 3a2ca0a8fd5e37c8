/** What a test nats-server's config says, wherever it runs (a local process or a container). */
export type NatsConfig = {
  /** `host:port` for clients. */
  listen: string;
  storeDir: string;
  /** Includes `auth.conf` (beside the config file): Herald's identities and permissions. */
  auth: boolean;
  serverName?: string | undefined;
  /** `cluster { }`: its own `host:port` and the `host:port` of each other node. */
  cluster?: { name: string; listen: string; routes: string[] } | undefined;
  /** Default 16MB. */
  maxPayload?: string | undefined;
  extraConfig?: string | undefined;
};

/** The config file text for a JetStream test server. */
export function natsConfigText(config: NatsConfig): string {
  const lines = [
    ...(config.auth ? ["include auth.conf"] : []),
    `listen: "${config.listen}"`,
    ...(config.serverName ? [`server_name: "${config.serverName}"`] : []),
    // 16 MiB by default so a 10 MiB publish reaches Herald and is dead-lettered for its size rather than refused.
    `max_payload: ${config.maxPayload ?? "16MB"}`,
    `jetstream { store_dir: "${config.storeDir}" }`,
  ];
  if (config.cluster) {
    const routes = config.cluster.routes.map((route) => `"nats-route://${route}"`).join(", ");
    // As k8s/nats/nats.conf: a node that hangs is dropped by its peers within seconds, not the 2 min × 2 of
    // the default route pings (until then they keep routing requests to its queue subscribers).
    lines.push(
      `cluster { name: "${config.cluster.name}", listen: "${config.cluster.listen}", routes: [${routes}], ping_interval: "1s", ping_max: 3 }`,
    );
  }
  if (config.extraConfig) lines.push(config.extraConfig);
  return `${lines.join("\n")}\n`;
}
