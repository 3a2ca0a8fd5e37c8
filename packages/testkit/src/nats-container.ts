import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from "testcontainers";
import { readToolchain } from "../../../scripts/lib/toolchain.mjs";
import { createNatsAuth, type NatsAuth, natsServerAuthEnv } from "./nats-auth.js";
import { natsClusterHandle } from "./nats-cluster-handle.js";
import { natsConfigText } from "./nats-config.js";
import { NATS_MODE_ENV } from "./nats-mode.js";
import type { NatsCluster, NatsServer, NatsServerOptions } from "./nats-server.js";
import { freePorts, LineBuffer, removeOnExit } from "./processes.js";

/** Raised when `HERALD_TEST_NATS=container` but no container engine answers, or the container does not start. */
export class NatsContainerError extends Error {
  override name = "NatsContainerError";
  readonly code = "nats_container";
}

/** The image of the nats-server version pinned in toolchain.json, as the tests' local binary. */
export function pinnedNatsImage(): string {
  return `nats:${readToolchain().natsServer}`;
}

// Paths inside the container; the store is a bind mount of a host temp dir, so a restarted container (a new one
// on the same port) finds what the previous one stored, as a restarted process does.
const CONFIG_DIR = "/etc/herald-nats";
const STORE_DIR = "/data/jetstream";
const CLIENT_PORT = 4222;
const ROUTE_PORT = 6222;

/** Fails with a clear `NatsContainerError` when testcontainers finds no Docker or Podman engine. */
async function requireEngine(): Promise<void> {
  try {
    await getContainerRuntimeClient();
  } catch (error) {
    throw new NatsContainerError(
      `${NATS_MODE_ENV}=container, but no container engine answers (testcontainers: ${(error as Error).message}): ` +
        `start Docker or Podman (or point DOCKER_HOST at one), or unset ${NATS_MODE_ENV} to run the local nats-server`,
    );
  }
}

type NodeSpec = {
  options: NatsServerOptions;
  auth: NatsAuth | undefined;
  hostPort: number;
  /** On a cluster's network: this node's alias and its peers'. */
  network?: { started: StartedNetwork; alias: string; peers: string[] } | undefined;
};

function containerConfig(spec: NodeSpec, clusterName: string | undefined): string {
  const { options, network } = spec;
  return natsConfigText({
    listen: `0.0.0.0:${CLIENT_PORT}`,
    storeDir: STORE_DIR,
    auth: spec.auth !== undefined,
    serverName: options.serverName,
    maxPayload: options.maxPayload,
    extraConfig: options.extraConfig,
    cluster:
      network && clusterName
        ? {
            name: clusterName,
            listen: `0.0.0.0:${ROUTE_PORT}`,
            routes: network.peers.map((peer) => `${peer}:${ROUTE_PORT}`),
          }
        : undefined,
  });
}

/** One nats-server container with the same interface as the process launcher (`pid()` is undefined). */
async function startNode(spec: NodeSpec, clusterName?: string): Promise<NatsServer> {
  const { options, auth, hostPort } = spec;
  const workDir = mkdtempSync(join(tmpdir(), "herald-nats-container-"));
  if (!options.keepStore) removeOnExit(workDir);
  const storeDir = options.storeDir ?? join(workDir, "store");
  mkdirSync(storeDir, { recursive: true });
  const configFile = join(workDir, "nats.conf");
  const config = containerConfig(spec, clusterName);
  writeFileSync(configFile, config);
  const output = new LineBuffer(300);
  const uid = process.getuid?.();
  const gid = process.getgid?.();

  let definition = new GenericContainer(pinnedNatsImage())
    .withCommand(["-c", `${CONFIG_DIR}/nats.conf`])
    .withCopyContentToContainer([
      { content: config, target: `${CONFIG_DIR}/nats.conf` },
      ...(auth ? [{ content: auth.config, target: `${CONFIG_DIR}/auth.conf` }] : []),
    ])
    .withEnvironment(natsServerAuthEnv(auth))
    // A fixed host port, so a restart (a new container) is where clients reconnect to.
    .withExposedPorts({ container: CLIENT_PORT, host: hostPort })
    .withBindMounts([{ source: storeDir, target: "/data", mode: "rw" }])
    .withWaitStrategy(Wait.forLogMessage("Server is ready"))
    .withStartupTimeout(options.startTimeoutMs ?? 60_000)
    .withLogConsumer((stream: Readable) => {
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) => {
        output.push(line);
        options.onLine?.(line);
      });
    });
  // The store is this user's temp dir: write it as this user, so it can be removed without root.
  if (uid !== undefined && gid !== undefined) definition = definition.withUser(`${uid}:${gid}`);
  if (spec.network) {
    definition = definition.withNetwork(spec.network.started).withNetworkAliases(spec.network.alias);
  }

  let current: StartedTestContainer | undefined;
  const launch = async () => {
    try {
      current = await definition.start();
    } catch (error) {
      throw new NatsContainerError(
        `${pinnedNatsImage()} did not start: ${(error as Error).message}; its output:\n${output.tail(20)}`,
      );
    }
  };
  const halt = async (timeoutMs: number) => {
    if (!current) return;
    const container = current;
    current = undefined;
    // `docker stop`: SIGTERM (a clean JetStream shutdown), SIGKILL after the timeout; 0 is a crash.
    await container.stop({ timeout: timeoutMs, remove: true });
  };

  await launch();
  const host = current?.getHost() ?? "127.0.0.1";
  return {
    url: `nats://${host}:${hostPort}`,
    auth,
    port: hostPort,
    storeDir,
    configFile,
    pid: () => undefined,
    logs: () => output.all(),
    stop: () => halt(15_000),
    kill: () => halt(0),
    restart: async () => {
      await halt(15_000);
      await launch();
    },
    dispose: async () => {
      await halt(15_000);
      if (!options.keepStore) rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/**
 * `startNatsServer` when `HERALD_TEST_NATS=container`: the pinned `nats` image through testcontainers, with the
 * same config, identities and store semantics as the local process.
 */
export async function startNatsContainer(options: NatsServerOptions = {}): Promise<NatsServer> {
  await requireEngine();
  const auth = options.auth === false ? undefined : (options.auth ?? createNatsAuth());
  const [hostPort = 0] = options.port === undefined ? await freePorts(1) : [options.port];
  return startNode({ options, auth, hostPort });
}

/** `startNatsCluster` in container mode: routed nodes on their own network, each reached on its host port. */
export async function startNatsContainerCluster(
  size: number,
  options: Pick<NatsServerOptions, "startTimeoutMs" | "onLine" | "auth"> = {},
): Promise<NatsCluster> {
  await requireEngine();
  const auth = options.auth === false ? undefined : (options.auth ?? createNatsAuth());
  const network = await new Network().start();
  const aliases = Array.from({ length: size }, (_, i) => `herald-n${i + 1}`);
  const hostPorts = await freePorts(size);
  const started = await Promise.allSettled(
    aliases.map((alias, i) =>
      startNode(
        {
          options: { ...options, serverName: alias },
          auth,
          hostPort: hostPorts[i] ?? 0,
          network: { started: network, alias, peers: aliases.filter((peer) => peer !== alias) },
        },
        "herald",
      ),
    ),
  );
  const nodes = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failure = started.find((result) => result.status === "rejected");
  if (failure) {
    await Promise.all(nodes.map((node) => node.dispose().catch(() => {})));
    await network.stop().catch(() => {});
    throw failure.reason;
  }
  return natsClusterHandle(nodes, auth, () => network.stop());
}
