import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { baseEnvSchema, connectNats, createLogger, type Nats, parseEnv } from "@herald/service-kit";
import {
  createEarlierLayout,
  type NatsServer as KitNatsServer,
  startNatsServer as startKitNatsServer,
  waitFor as waitForValue,
} from "@herald/testkit";
import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { afterAll, beforeAll } from "vitest";

/**
 * Test fixtures: a private nats-server per suite (the one launcher in @herald/testkit, without Herald's NATS
 * identities: router tests connect as a backend without credentials) and the Herald streams.
 */

export type NatsServer = Pick<KitNatsServer, "url" | "port" | "stop" | "kill">;

/** Starts `nats-server -js` on a free port with a temporary store; `maxPayload` e.g. "16MB". */
export async function startNatsServer(options: { maxPayload?: string } = {}): Promise<NatsServer> {
  // nats-server's own default payload limit unless asked, as the router tests were written against it.
  const server = await startKitNatsServer({ auth: false, maxPayload: options.maxPayload ?? "1MB" });
  return { url: server.url, port: server.port, stop: server.dispose, kill: server.kill };
}

/** A service-grade connection (same settings as the services use). */
export function connectTest(url: string, name = "herald-router-test"): Promise<Nats> {
  const config = parseEnv(baseEnvSchema, { NATS_URL: url });
  return connectNats(config, name, createLogger(name, process.env.TEST_LOG_LEVEL ?? "silent"));
}

/** INTAKE, MBOX and DEAD as the earlier layout had them (INTAKE captures all of `send.>`). */
export const createStreams = createEarlierLayout;

/** Every stored message of `stream` matching `filter` (wildcards allowed), oldest first. */
export async function readAll(jsm: JetStreamManager, stream: string, filter: string): Promise<StoredMsg[]> {
  const out: StoredMsg[] = [];
  const info = await jsm.streams.info(stream);
  if (info.config.allow_direct) {
    for (let seq = 1; ; ) {
      const msg = await jsm.direct.getMessage(stream, { seq, next_by_subj: filter });
      if (!msg) return out;
      out.push(msg);
      seq = msg.seq + 1;
    }
  }
  // Without direct get (DEAD), read by sequence: fine for the few messages a test leaves there.
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (msg && subjectMatches(filter, msg.subject)) out.push(msg);
  }
  return out;
}

function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split(".");
  const t = subject.split(".");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === ">") return t.length > i;
    if (i >= t.length || (f[i] !== "*" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/** The kit's `waitFor`, with what it waits for first (as this app's tests read). */
export function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  return waitForValue(check, what, timeoutMs);
}

/** Waits for a child process to exit and returns its code. */
export function exitCode(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const MAIN = join(ROOT, "apps/router/dist/main.js");

/**
 * Builds the router (and what it references) so tests can start `node apps/router/dist/main.js`. Test files
 * run in parallel workers: a lock directory keeps two `tsc -b` from writing the same files at once.
 */
export async function buildRouter(): Promise<void> {
  const lock = join(tmpdir(), "herald-router-build.lock");
  await waitFor(
    "the build lock",
    () => {
      try {
        mkdirSync(lock);
        return true;
      } catch {
        // A lock left by a crashed run is broken after two minutes.
        const since = statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
        if (Date.now() - since > 120_000) rmSync(lock, { force: true, recursive: true });
        return false;
      }
    },
    180_000,
  );
  try {
    execFileSync(join(ROOT, "node_modules/.bin/tsc"), ["-b", "apps/router"], { cwd: ROOT, stdio: "inherit" });
  } finally {
    rmSync(lock, { force: true, recursive: true });
  }
}

export type RouterProcess = {
  child: ChildProcess;
  /** Everything written so far to stdout (JSON log lines) and stderr. */
  output: () => string;
  /** The admin port, read from the "admin listening" log line. */
  adminPort: () => Promise<number>;
};

/** Starts the built router as its own process, the way it runs in production. */
export function spawnRouter(env: Record<string, string>): RouterProcess {
  const child = spawn(process.execPath, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ADMIN_PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return {
    child,
    output: () => output,
    adminPort: () =>
      waitFor("the admin port", () => {
        for (const line of output.split("\n")) {
          if (!line.startsWith("{")) continue;
          const entry = JSON.parse(line) as { msg?: string; port?: number };
          if (entry.msg === "admin listening" && entry.port) return entry.port;
        }
        if (child.exitCode !== null) throw new Error(`router exited with ${child.exitCode}:\n${output}`);
        return undefined;
      }),
  };
}

export type TestWorld = { server: NatsServer; client: Nats };

/**
 * A private nats-server and a backend connection for one test file, started before its tests and stopped
 * after them (the router built first with `build`). Read the fields inside tests.
 */
export function useTestServer(options: { build?: boolean; maxPayload?: string } = {}): TestWorld {
  const world = {} as TestWorld;
  beforeAll(async () => {
    if (options.build) await buildRouter();
    world.server = await startNatsServer(options.maxPayload ? { maxPayload: options.maxPayload } : {});
    world.client = await connectTest(world.server.url, "backend");
  }, 120_000);
  afterAll(async () => {
    await world.client?.nc.close();
    await world.server?.stop();
  });
  return world;
}
