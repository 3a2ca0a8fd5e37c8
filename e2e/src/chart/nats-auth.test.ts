import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { NATS_IDENTITIES, natsChartAccounts, passwordEnv } from "@herald/protocol";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { components, type Loose, repoRoot } from "./helm.js";

const run = promisify(execFile);
const example = (): Loose =>
  parse(readFileSync(join(repoRoot, "charts", "herald", "examples", "with-nats", "values.yaml"), "utf8"));

describe("charts/herald/examples/with-nats: NATS with Herald's identities", () => {
  it("gives the NATS chart the generated account, with every password from a Secret", () => {
    const values = example();
    expect(values.nats.config.merge.accounts).toEqual(natsChartAccounts());
    for (const identity of NATS_IDENTITIES) {
      expect(values.nats.container.env[passwordEnv(identity)], identity).toEqual({
        valueFrom: { secretKeyRef: { name: `herald-nats-${identity}`, key: "password" } },
      });
    }
  });

  it("connects each Herald component as its own identity (the helm test as a publisher)", () => {
    const auth = example().herald.natsConnection.auth;
    expect(auth.type).toBe("userPassword");
    for (const component of components) expect(auth.secrets[component]).toBe(`herald-nats-${component}`);
    expect(auth.secrets.test).toBe("herald-nats-publisher");
  });

  it("is what the generator writes (node scripts/nats-auth.mjs check)", async () => {
    const result = await run(process.execPath, [join(repoRoot, "scripts", "nats-auth.mjs"), "check"]);
    expect(result.stderr).toBe("");
  });
});
