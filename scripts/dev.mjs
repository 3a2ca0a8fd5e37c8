#!/usr/bin/env node
// `npm run dev`: builds, then runs a private NATS (JetStream, port 4223) and the four services with prefixed
// output, plus a watcher that publishes to user `alice` every 2 s and prints what alice's WebSocket receives,
// and the demo page (demo/: dev-only, never in an image) on HERALD_DEV_DEMO_PORT (8090).
// Ctrl-C stops it all in order: services (SIGTERM, connector first), then NATS.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BootstrapError, bootstrap, findNatsServer, root, say, warn } from "./lib/bootstrap.mjs";

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code, text) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
const COLOURS = {
  nats: "90",
  persistence: "35",
  router: "34",
  presence: "33",
  connector: "32",
  watcher: "36",
};
const LEVELS = { 10: "trace", 20: "debug", 30: "info", 40: "warn", 50: "error", 60: "fatal" };
const width = Math.max(...Object.keys(COLOURS).map((name) => name.length));

/** One output line with a coloured `name |` prefix; pino JSON is shortened to `level msg {fields}`. */
function printer(name) {
  const prefix = paint(COLOURS[name] ?? "0", `${name.padEnd(width)} |`);
  return (line) => {
    let text = line;
    if (line.startsWith("{")) {
      try {
        const {
          level,
          msg,
          time: _time,
          service: _service,
          pid: _pid,
          hostname: _host,
          ...rest
        } = JSON.parse(line);
        const levelName = LEVELS[level] ?? level;
        const shown = levelName === "info" ? "" : `${paint(level >= 50 ? "31" : "33", levelName)} `;
        text = `${shown}${msg ?? ""}${Object.keys(rest).length ? ` ${paint("90", JSON.stringify(rest))}` : ""}`;
      } catch {}
    }
    console.log(`${prefix} ${text}`);
  };
}

/** Builds what is missing and loads the test kit's process fixtures and the dev watcher (both built). */
async function prepare() {
  try {
    const { built } = await bootstrap();
    const needed = [
      "packages/testkit/dist/index.js",
      "demo/dist/server.js",
      ...["connector", "router", "presence", "persistence"].map((name) => `apps/${name}/dist/main.js`),
    ];
    const missing = needed.filter((file) => !existsSync(join(root, file)));
    if (missing.length > 0) throw new BootstrapError(`the build did not produce ${missing.join(", ")}`);
    if (!built) warn("the build reported type errors (above); starting what was built anyway");
  } catch (error) {
    if (error instanceof BootstrapError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
  const fixtures = await import(pathToFileURL(join(root, "packages/testkit/dist/index.js")).href);
  const { startDevWatcher } = await import(
    pathToFileURL(join(root, "packages/testkit/dist/dev-watcher.js")).href
  );
  return { fixtures, startDevWatcher };
}

/** Ports, secrets and the store, from the environment or the dev defaults. */
function devSettings() {
  const adminBase = Number(process.env.HERALD_DEV_ADMIN_PORT_BASE ?? 9091);
  // The router keeps only the key's hash (HERALD_HTTP_PUBLISH_API_KEY_HASHES), as in production.
  const apiKey = process.env.HERALD_DEV_API_KEY ?? "herald-dev-api-key";
  const publicPort = Number(process.env.PORT ?? 8080);
  return {
    natsPort: Number(process.env.HERALD_DEV_NATS_PORT ?? 4223),
    publicPort,
    wsUrl: `ws://127.0.0.1:${publicPort}/ws`,
    adminPorts: {
      connector: adminBase,
      router: adminBase + 1,
      presence: adminBase + 2,
      persistence: adminBase + 3,
    },
    jwtSecret: process.env.HERALD_JWT_SECRET ?? "herald-dev-secret-do-not-use-in-production",
    httpPublishPort: Number(process.env.HERALD_DEV_HTTP_PUBLISH_PORT ?? 8081),
    apiKey,
    apiKeyHash: createHash("sha256").update(apiKey).digest("hex"),
    demoPort: Number(process.env.HERALD_DEV_DEMO_PORT ?? 8090),
    storeDir: join(root, ".herald", "dev-nats"),
  };
}

/**
 * What is running, and its ordered stop: demo and watcher, the services in reverse start order (connector
 * first), then NATS. A second Ctrl-C kills everything at once.
 */
function devRun(fixtures) {
  const run = { services: [], nats: undefined, watcher: undefined, demo: undefined };
  let stopping = false;
  run.shutdown = async (reason) => {
    if (stopping) {
      fixtures.killAllChildren();
      process.exit(130);
    }
    stopping = true;
    say(`stopping (${reason}); Ctrl-C again to kill`);
    await run.demo?.close().catch(() => {});
    await run.watcher?.stop().catch(() => {});
    for (const service of [...run.services].reverse()) {
      const code = await service.stop().catch((error) => error.message);
      say(`${service.name} exited (${code})`);
    }
    await run.nats?.stop();
    say("nats-server stopped; bye");
    process.exit(0);
  };
  process.on("SIGINT", () => void run.shutdown("SIGINT"));
  process.on("SIGTERM", () => void run.shutdown("SIGTERM"));
  return run;
}

/** A private nats-server with JetStream on the dev port, its store kept between runs. */
function startDevNats(fixtures, settings) {
  mkdirSync(settings.storeDir, { recursive: true });
  const natsPrinter = printer("nats");
  say(`nats-server ${findNatsServer()} on port ${settings.natsPort}, store ${settings.storeDir}`);
  return fixtures.startNatsServer({
    port: settings.natsPort,
    storeDir: settings.storeDir,
    detached: true,
    // Its banner is long; warnings, errors and the few lines that say where it listens are what matter here.
    onLine: (line) => {
      if (!line.includes("[INF]") || /Listening|Server is ready|Shutdown|Exiting/.test(line))
        natsPrinter(line);
    },
  });
}

/** One service's env: its own NATS identity, with the permissions that ship (k8s/nats/auth.conf). */
function serviceEnv(fixtures, nats, name, settings) {
  return {
    NATS_URL: nats.url,
    HERALD_JWT_SECRET: settings.jwtSecret,
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    ...fixtures.natsServiceEnv(nats, name),
    ADMIN_PORT: String(settings.adminPorts[name]),
    // The dev watcher's token lives 30 days (past the 24 h default maximum), so a dev session never expires.
    ...(name === "connector" ? { PORT: String(settings.publicPort), HERALD_MAX_TOKEN_LIFETIME: "30d" } : {}),
    ...(name === "router"
      ? {
          HERALD_HTTP_PUBLISH_PORT: String(settings.httpPublishPort),
          HERALD_HTTP_PUBLISH_API_KEY_HASHES: settings.apiKeyHash,
        }
      : {}),
  };
}

/** Persistence first (it creates the streams the others wait for), then the rest; resolves once all are ready. */
async function startServices(fixtures, run, settings) {
  const start = async (name) => {
    const env = serviceEnv(fixtures, run.nats, name, settings);
    const service = await fixtures.startService(name, env, { detached: true, onLine: printer(name) });
    run.services.push(service);
    return service;
  };
  await (await start("persistence")).waitReady();
  for (const name of ["router", "presence", "connector"]) await start(name);
  await Promise.all(run.services.map((service) => service.waitReady()));
}

/** What is running and how to try it. */
async function banner(fixtures, run, settings) {
  const { nats, watcher, demo } = run;
  const { publisher, operator } = nats.auth.users;
  const cli = `NATS_URL=${nats.url} NATS_USER=${operator.user} NATS_PASSWORD=${operator.password} node packages/cli/dist/main.js`;
  const http = `http://127.0.0.1:${settings.httpPublishPort}`;
  const natsCli = `nats --server ${nats.url} --user ${publisher.user} --password ${publisher.password} --inbox-prefix ${fixtures.natsClientOptions(nats, "publisher").inboxPrefix}`;
  return [
    "",
    paint("1", "Herald is running"),
    ...(demo
      ? [`  Demo page            ${paint("1", demo.url)}  (inbox, chat, presence; ?user=bob in another tab)`]
      : []),
    `  NATS (JetStream)     ${nats.url}`,
    `  WebSocket            ${settings.wsUrl}?token=${watcher.token}`,
    `  admin ports          ${Object.entries(settings.adminPorts)
      .map(([name, port]) => `${name} :${port}`)
      .join(", ")}  (/healthz /readyz /metrics)`,
    `  HERALD_JWT_SECRET    ${settings.jwtSecret}`,
    `  HTTP publish API     ${http}  (/openapi.json; API key ${settings.apiKey})`,
    "",
    "  Publish to alice with the operator CLI (packages/cli; `herald --help` lists the rest):",
    `    ${cli} publish user alice '{"hi":"there"}'`,
    `    ${cli} devices alice`,
    ...((await hasNatsCli())
      ? [
          "  or with the nats CLI as a backend (a request gets JetStream's PubAck as its reply):",
          `    ${natsCli} req herald.send.user.alice '{"data":{"hi":"there"}}'`,
        ]
      : []),
    "  or over HTTP, as a backend that does not speak NATS:",
    `    curl -X POST ${http}/v1/publish/user/alice -H 'Authorization: Bearer ${settings.apiKey}' -H 'Content-Type: application/json' -d '{"data":{"hi":"there"}}'`,
    "  The watcher below publishes every 2 s and prints what alice's WebSocket receives. Ctrl-C stops everything.",
    "",
  ].join("\n");
}

async function main() {
  const { fixtures, startDevWatcher } = await prepare();
  const settings = devSettings();
  const run = devRun(fixtures);
  run.nats = await startDevNats(fixtures, settings);
  try {
    await startServices(fixtures, run, settings);
  } catch (error) {
    console.error(error.message);
    await run.shutdown("start-up failed");
    return;
  }
  const { wsUrl, jwtSecret } = settings;
  run.watcher = await startDevWatcher({ nats: run.nats, wsUrl, jwtSecret, log: printer("watcher") });
  const { startDemoServer } = await import(pathToFileURL(join(root, "demo/dist/server.js")).href);
  const publisherNats = fixtures.natsClientOptions(run.nats, "publisher");
  run.demo = await startDemoServer({ nats: publisherNats, wsUrl, jwtSecret, port: settings.demoPort }).catch(
    (error) => {
      warn(`demo page not started: ${error.message} (HERALD_DEV_DEMO_PORT picks another port)`);
    },
  );
  console.log(await banner(fixtures, run, settings));
}

async function hasNatsCli() {
  const { spawnSync } = await import("node:child_process");
  return spawnSync("sh", ["-c", "command -v nats"], { stdio: "ignore" }).status === 0;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
