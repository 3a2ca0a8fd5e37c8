import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A private JetStream-enabled nats-server for one test file (never the shared one on 4222). */
export type NatsServer = {
  url: string;
  port: number;
  stop: () => Promise<void>;
  /** kill -9, then start again on the same port and store. */
  kill: () => Promise<void>;
  restart: () => Promise<void>;
};

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function spawnServer(port: number, dir: string): Promise<ChildProcess> {
  // The pinned nats-server; vitest.config.ts sets NATS_SERVER_BIN (see toolchain.json).
  const bin = process.env.NATS_SERVER_BIN;
  if (!bin) throw new Error("NATS_SERVER_BIN is not set: run the tests with `npm test`");
  const child: ChildProcess = spawn(bin, ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", dir], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise<ChildProcess>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`nats-server did not start:\n${output}`)), 10_000);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Server is ready")) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("exit", (code) => reject(new Error(`nats-server exited with ${code}:\n${output}`)));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

export async function startNatsServer(): Promise<NatsServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "presence-nats-"));
  let child = await spawnServer(port, dir);
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    kill: () => kill(child),
    restart: async () => {
      await kill(child);
      child = await spawnServer(port, dir);
    },
    stop: async () => {
      await kill(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `check` until it returns a value other than `undefined`/`false`, or fails at the deadline. */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  message: string | (() => string),
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms: ${typeof message === "function" ? message() : message}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
