import { connect } from "@nats-io/transport-node";
import { afterEach, describe, expect, it } from "vitest";
import { readToolchain } from "../../../scripts/lib/toolchain.mjs";
import { NatsContainerError, pinnedNatsImage } from "./nats-container.js";
import { announceNatsMode, NATS_MODE_ENV, NatsModeError, natsMode } from "./nats-mode.js";
import { type NatsServer, startNatsServer } from "./nats-server.js";

const saved = process.env[NATS_MODE_ENV];
let server: NatsServer | undefined;

afterEach(async () => {
  if (saved === undefined) delete process.env[NATS_MODE_ENV];
  else process.env[NATS_MODE_ENV] = saved;
  await server?.dispose();
  server = undefined;
});

describe("choosing how tests run NATS (HERALD_TEST_NATS)", () => {
  it("is a local process unless container is asked for", () => {
    expect(natsMode({})).toBe("process");
    expect(natsMode({ [NATS_MODE_ENV]: "" })).toBe("process");
    expect(natsMode({ [NATS_MODE_ENV]: "process" })).toBe("process");
    expect(natsMode({ [NATS_MODE_ENV]: "container" })).toBe("container");
    expect(natsMode({ [NATS_MODE_ENV]: " Container " })).toBe("container");
  });

  it("refuses an unknown mode with a named error that lists the choices", () => {
    expect(() => natsMode({ [NATS_MODE_ENV]: "docker" })).toThrow(NatsModeError);
    expect(() => natsMode({ [NATS_MODE_ENV]: "docker" })).toThrow(
      "HERALD_TEST_NATS=docker is not one of: process, container",
    );
  });

  it("says once per run which mode it uses, and stops the run on a typo", () => {
    const lines: string[] = [];
    const env: Record<string, string | undefined> = { [NATS_MODE_ENV]: "container" };
    expect(announceNatsMode(env, (line) => lines.push(line))).toBe("container");
    expect(announceNatsMode(env, (line) => lines.push(line))).toBe("container");
    expect(lines).toEqual([expect.stringContaining("HERALD_TEST_NATS=container")]);
    expect(() => announceNatsMode({ [NATS_MODE_ENV]: "podman" }, () => {})).toThrow(NatsModeError);
  });

  it("starts the pinned binary as a process by default", async () => {
    delete process.env[NATS_MODE_ENV];
    server = await startNatsServer({ auth: false });
    expect(server.pid()).toEqual(expect.any(Number));
    const nc = await connect({ servers: server.url });
    expect(nc.info?.version).toBe(readToolchain().natsServer);
    await nc.close();
  });

  it("with container, runs the pinned image, or says clearly that no container engine answers", async () => {
    process.env[NATS_MODE_ENV] = "container";
    expect(pinnedNatsImage()).toBe(`nats:${readToolchain().natsServer}`);
    const started = await startNatsServer({ auth: false }).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    if ("error" in started) {
      // This machine and CI have no engine: the error must say what was asked and how to get on.
      expect(started.error).toBeInstanceOf(NatsContainerError);
      expect((started.error as NatsContainerError).code).toBe("nats_container");
      expect((started.error as Error).message).toMatch(
        /HERALD_TEST_NATS=container, but no container engine answers .*start Docker or Podman.*unset HERALD_TEST_NATS/,
      );
      return;
    }
    server = started.value;
    expect(server.pid()).toBeUndefined();
    const nc = await connect({ servers: server.url });
    expect(nc.info?.version).toBe(readToolchain().natsServer);
    await nc.close();
  }, 120_000);
});
