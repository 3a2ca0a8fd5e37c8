// Chart rehearsal for `helm test`: the four services run as processes with the env their rendered Deployments
// give them (one replica each, against one local nats-server), and the test pod's script, as the chart's
// ConfigMap holds it, runs with the test pod's rendered env. Covers issue 19 item 5: tokens with `iss`/`aud`,
// a token taken from a Secret with JWKS-only auth, and the skip when there is neither.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type NatsServer,
  type Service,
  startNatsServer,
  startService,
  waitForJetStream,
} from "@herald/testkit";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { podPlan, processEnv } from "../support/rehearsal.js";
import { byKind, type components, type K8sObject, type Loose, render, repoRoot } from "./helm.js";

let nats: NatsServer | undefined;
let jwks: Server | undefined;
const started: Service[] = [];
const scratch = mkdtempSync(join(tmpdir(), "herald-helm-test-"));

afterAll(async () => {
  await Promise.all(started.map((service) => service.kill()));
  await nats?.dispose();
  await new Promise((resolve) => (jwks ? jwks.close(resolve) : resolve(undefined)));
  rmSync(scratch, { recursive: true, force: true });
});

/** Values of the Secrets the chart references: the ones it renders itself, plus the test's own. */
function secretsOf(objects: K8sObject[], extra: Record<string, string> = {}): Record<string, string> {
  const secrets: Record<string, string> = { ...extra };
  for (const secret of byKind(objects, "Secret")) {
    for (const [key, value] of Object.entries(secret.data ?? {})) {
      secrets[`${secret.metadata.name}/${key}`] = Buffer.from(String(value), "base64").toString("utf8");
    }
  }
  return secrets;
}

/** The helm test pod's env as rendered, secrets resolved; an unknown secret reference fails. */
function testPodEnv(objects: K8sObject[], secrets: Record<string, string>): Record<string, string> {
  const [pod] = byKind(objects, "Pod");
  if (!pod) throw new Error("no helm test pod rendered");
  const env: Record<string, string> = {};
  for (const entry of pod.spec.containers[0].env as Loose[]) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (!ref) {
      env[entry.name] = String(entry.value ?? "");
      continue;
    }
    const value = secrets[`${ref.name}/${ref.key}`];
    if (value === undefined)
      throw new Error(`no test value for secret ${ref.name}/${ref.key} (${entry.name})`);
    env[entry.name] = value;
  }
  return env;
}

/**
 * Runs the chart's test script as the pod would: the ConfigMap's roundtrip.mjs next to the connector's
 * node_modules (the image mounts it under /app/helm-test), only the rendered env plus PATH and HOME.
 * The Service URL is replaced by the local connector's port.
 */
async function runHelmTest(
  objects: K8sObject[],
  env: Record<string, string>,
  connector: Service,
): Promise<{ code: number | null; output: string }> {
  const script = byKind(objects, "ConfigMap").find((cm) => cm.data?.["roundtrip.mjs"])?.data["roundtrip.mjs"];
  if (!script) throw new Error("no roundtrip.mjs ConfigMap rendered");
  const dir = mkdtempSync(join(scratch, "pod-"));
  symlinkSync(join(repoRoot, "apps", "connector", "node_modules"), join(dir, "node_modules"));
  mkdirSync(join(dir, "helm-test"));
  writeFileSync(join(dir, "helm-test", "roundtrip.mjs"), script);
  const child: ChildProcess = spawn(process.execPath, [join(dir, "helm-test", "roundtrip.mjs")], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      ...env,
      HERALD_TEST_URL: `ws://127.0.0.1:${connector.port}/ws`,
      HERALD_TEST_TIMEOUT_SECONDS: "30",
    },
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, output };
}

async function startFromChart(
  objects: K8sObject[],
  component: (typeof components)[number],
  secrets: Record<string, string>,
) {
  const plan = podPlan(objects, component, secrets);
  const service = await startService(component, processEnv(plan), { startTimeoutMs: 45_000 });
  started.push(service);
  await service.waitReady(45_000);
  return { service, plan };
}

let connector: Service | undefined;
let devObjects: K8sObject[] = [];

beforeAll(async () => {
  // The chart's rendered env and its helm test script, against an open server: the NATS identities the chart
  // wires up are checked by chart/nats-auth.test.ts and the cluster rehearsal.
  nats = await startNatsServer({ auth: false });
  await waitForJetStream(nats.url);
}, 60_000);

describe("helm test against services started with the chart's rendered env", () => {
  it("dev-values.yaml (iss and aud required): the four services get ready and the round trip passes", {
    timeout: 120_000,
  }, async () => {
    devObjects = await render({
      valuesFiles: ["dev-values.yaml"],
      set: { "natsConnection.urls[0]": nats!.url },
    });
    const secrets = secretsOf(devObjects);
    for (const component of ["persistence", "router", "presence", "connector"] as const) {
      const { service, plan } = await startFromChart(devObjects, component, secrets);
      expect(plan.replicas).toBe(1);
      if (component === "connector") {
        connector = service;
        expect(plan.chartEnv).toMatchObject({
          HERALD_JWT_ISSUER: "https://id.dev.example",
          HERALD_JWT_AUDIENCE: "herald-dev",
        });
      }
    }
    const env = testPodEnv(devObjects, secrets);
    const result = await runHelmTest(devObjects, env, connector!);
    expect(result.output).toContain("round trip ok");
    expect(result.code, result.output).toBe(0);
  });

  it("a token without the audience the connector requires is refused (so the pass above means something)", {
    timeout: 60_000,
  }, async () => {
    if (!connector) throw new Error("the services did not start (see the test above)");
    const env = testPodEnv(devObjects, secretsOf(devObjects));
    delete env.HERALD_JWT_AUDIENCE;
    const result = await runHelmTest(devObjects, env, connector);
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/FAIL: the connector refused the token: HTTP 401 .*unauthorized/);
  });

  it("JWKS-only auth: a token from tests.token round-trips; without one the test checks what it can and skips", {
    timeout: 120_000,
  }, async () => {
    if (!connector) throw new Error("the services did not start (see the first test)");
    // The identity provider: an ES256 key served as a JWKS on this machine.
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "test", alg: "ES256", use: "sig" };
    const idp = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    jwks = idp;
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks`;
    const local = {
      "auth.jwksUrl": jwksUrl,
      "natsConnection.urls": `{${nats!.url}}`,
      "config.streamReplicas": "1",
    };

    // gateway-jwks-values.yaml: JWKS with issuer and audience, NATS user/password, tests.token.
    const gateway = await render({ valuesFiles: ["gateway-jwks-values.yaml"], set: local });
    const userId = `idp-user-${randomBytes(3).toString("hex")}`;
    const token = await new SignJWT({ did: "helm-test" })
      .setProtectedHeader({ alg: "ES256", kid: "test" })
      .setSubject(userId)
      .setIssuer("https://id.example.com/")
      .setAudience("push")
      .setExpirationTime("10m")
      .sign(privateKey);
    // This nats-server has no accounts: it accepts any user and password.
    const secrets = {
      "herald-nats-user/user": "herald",
      "herald-nats-user/password": "unused",
      "herald-test-token/token": token,
    };
    const { service: jwksConnector, plan } = await startFromChart(gateway, "connector", secrets);
    expect(plan.chartEnv.HERALD_JWT_SECRET).toBeUndefined();
    expect(plan.chartEnv.HERALD_JWKS_URL).toBe(jwksUrl);
    const withToken = await runHelmTest(gateway, testPodEnv(gateway, secrets), jwksConnector);
    expect(withToken.output).toContain(`connected as ${userId}`);
    expect(withToken.output).toContain("round trip ok");
    expect(withToken.code, withToken.output).toBe(0);

    // loadbalancer-values.yaml: JWKS-only and no tests.token.
    const bare = await render({ valuesFiles: ["loadbalancer-values.yaml"], set: local });
    const skipped = await runHelmTest(bare, testPodEnv(bare, {}), jwksConnector);
    expect(skipped.output).toMatch(
      /NATS connected and the connector accepted a WebSocket\. SKIP: no round trip/,
    );
    expect(skipped.output).toContain("tests.token.existingSecret");
    expect(skipped.code, skipped.output).toBe(0);
  });
});
