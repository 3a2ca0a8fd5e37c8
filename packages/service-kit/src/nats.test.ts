import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { type NatsServer, startNatsServer, waitUntil } from "@herald/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { baseEnvSchema, parseEnv } from "./config.js";
import { createLogger } from "./logger.js";
import { connectNats, MIN_NATS_SERVER, NatsServerTooOldError, versionAtLeast } from "./nats.js";

describe("MIN_NATS_SERVER", () => {
  it("is the oldest version the README and the contract name", () => {
    for (const doc of ["../../../README.md", "../../../docs/contract.md"]) {
      expect(readFileSync(new URL(doc, import.meta.url), "utf8"), doc).toContain(
        `nats-server ${MIN_NATS_SERVER}`,
      );
    }
  });
});

describe("versionAtLeast", () => {
  it.each([
    ["2.15.1", "2.11.0", true],
    ["2.11.0", "2.11.0", true],
    ["2.11.0-RC.1", "2.11.0", true],
    ["2.10.27", "2.11.0", false],
    ["2.9.10", "2.11.0", false],
    ["3.0.0", "2.11.0", true],
    ["1.99.99", "2.11.0", false],
  ])("%s >= %s is %s", (version, minimum, expected) => {
    expect(versionAtLeast(version, minimum)).toBe(expected);
  });
});

/** Speaks just enough of the NATS protocol to look like a server of `version`. */
function fakeServer(version: string): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    const info = { server_id: "FAKE", version, proto: 1, headers: true, max_payload: 1_048_576 };
    socket.write(`INFO ${JSON.stringify(info)}\r\n`);
    socket.on("data", (chunk) => {
      if (chunk.toString().includes("PING")) socket.write("PONG\r\n");
    });
    socket.on("error", () => {});
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({ server, url: `nats://127.0.0.1:${port}` });
    }),
  );
}

describe("connectNats", () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it(`refuses a nats-server older than ${MIN_NATS_SERVER} with a named error`, async () => {
    const fake = await fakeServer("2.9.10");
    server = fake.server;
    const config = parseEnv(baseEnvSchema, { NATS_URL: fake.url });
    const attempt = connectNats(config, "too-old-test", createLogger("too-old-test", "silent"));
    await expect(attempt).rejects.toBeInstanceOf(NatsServerTooOldError);
    await expect(attempt).rejects.toMatchObject({ code: "nats_server_too_old", version: "2.9.10" });
  });
});

describe("connectNats on a server that hangs", () => {
  const servers: NatsServer[] = [];
  afterEach(async () => {
    for (const server of servers) {
      const pid = server.pid();
      if (pid !== undefined) process.kill(pid, "SIGCONT");
    }
    await Promise.all(servers.splice(0).map((server) => server.dispose()));
  });

  it("notices unanswered pings and moves to another server (a hung node sends no FIN)", async () => {
    servers.push(await startNatsServer({ auth: false }), await startNatsServer({ auth: false }));
    const urls = servers.map((server) => server.url);
    const config = parseEnv(baseEnvSchema, {
      NATS_URL: urls.join(","),
      NATS_PING_INTERVAL: "200ms",
      NATS_MAX_PINGS_OUT: "2",
    });
    const nats = await connectNats(config, "hang-test", createLogger("hang-test", "silent"));
    try {
      const first = nats.nc.getServer();
      const hung = servers.find((server) => first === `127.0.0.1:${server.port}`);
      expect(hung, `connected to ${first}`).toBeDefined();
      // SIGSTOP: the process keeps its sockets open and answers nothing, like a node cut off the network.
      process.kill(hung!.pid()!, "SIGSTOP");
      // No "disconnected" wait first: on a quiet machine the move to the other server is quicker than a poll.
      await waitUntil(() => nats.connected() && nats.nc.getServer() !== first, {
        timeoutMs: 10_000,
        message: "reconnected to the other server",
      });
    } finally {
      await nats.nc.close();
    }
  });

  it("pings every second with 2 outstanding by default", () => {
    const config = parseEnv(baseEnvSchema, {});
    expect([config.NATS_PING_INTERVAL, config.NATS_MAX_PINGS_OUT]).toEqual([1_000, 2]);
  });
});
