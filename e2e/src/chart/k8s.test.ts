import { execFile, execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { isNatsSafePassword } from "@herald/protocol";
import { findNatsServer } from "@herald/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { byKind, type K8sObject, type Loose, parseManifests, repoRoot, tools } from "./helm.js";
import { validateObject } from "./validate.js";

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), "herald-k8s-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
// A copy of k8s/ with the dev overlay's NATS passwords generated, as a developer does before applying it (the
// file is git-ignored, so the repository never holds them).
const k8sCopy = join(scratch, "k8s");
cpSync(join(repoRoot, "k8s"), k8sCopy, { recursive: true });
const devSecrets = join(k8sCopy, "overlays", "dev", "nats-auth.env");
rmSync(devSecrets, { force: true });
execFileSync(process.execPath, [
  join(repoRoot, "scripts", "nats-auth.mjs"),
  "dev-secrets",
  "--out",
  devSecrets,
]);
const build = async (overlay: string): Promise<K8sObject[]> => {
  const { stdout } = await run(tools().kubectl, ["kustomize", join(k8sCopy, "overlays", overlay)]);
  return parseManifests(stdout);
};

describe.each(["dev", "prod"])("k8s/overlays/%s", (overlay) => {
  it("builds objects that are valid against the Kubernetes API schemas", async () => {
    const objects = await build(overlay);
    expect(byKind(objects, "Deployment")).toHaveLength(4);
    for (const obj of objects) await validateObject(obj);
    const namespace = overlay === "dev" ? "herald-dev" : "herald";
    for (const obj of objects.filter((o) => o.kind !== "Namespace"))
      expect(obj.metadata.namespace).toBe(namespace);
  });

  it("runs every service non-root on a read-only root, wired to a hashed config", async () => {
    const objects = await build(overlay);
    const [config] = byKind(objects, "ConfigMap").filter((cm) =>
      cm.metadata.name.startsWith("herald-config-"),
    );
    expect(config?.data).toMatchObject({ HERALD_REPLICAS: "3", HERALD_PREFIX: "herald" });
    for (const deployment of byKind(objects, "Deployment")) {
      const spec = deployment.spec.template.spec;
      expect(spec.securityContext.runAsNonRoot).toBe(true);
      const [container] = spec.containers;
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(container.image).toMatch(/^ghcr\.io\/herald\/\w+:\d+\.\d+\.\d+$/);
      expect(container.envFrom[0].configMapRef.name).toBe(config?.metadata.name);
      expect(container.readinessProbe.httpGet.path).toBe("/readyz");
      expect(container.livenessProbe.httpGet.path).toBe("/healthz");
    }
  });
});

describe("k8s dev NATS", () => {
  it("is a 3-node JetStream StatefulSet whose config nats-server accepts", async () => {
    const objects = await build("dev");
    const [statefulSet] = byKind(objects, "StatefulSet");
    expect(statefulSet?.spec.replicas).toBe(3);
    expect(statefulSet?.spec.volumeClaimTemplates[0].metadata.name).toBe("data");
    const config = byKind(objects, "ConfigMap").find((cm) => cm.data?.["nats.conf"]);
    const conf: string = config?.data["nats.conf"];
    expect(conf).toMatch(/jetstream\s*\{/);
    for (const n of [0, 1, 2]) expect(conf).toContain(`nats://nats-${n}.nats-headless:6222`);
    const file = join(scratch, "nats.conf");
    writeFileSync(file, conf);
    writeFileSync(join(scratch, "auth.conf"), config?.data["auth.conf"]);
    // The passwords come from the generated Secret, as the StatefulSet's env maps them.
    const secret = byKind(objects, "Secret").find((s) => s.metadata.name.startsWith("herald-nats-auth"));
    const passwords: Record<string, string> = {};
    for (const entry of statefulSet?.spec.template.spec.containers[0].env ?? []) {
      const ref = entry.valueFrom?.secretKeyRef;
      if (!ref) continue;
      expect(ref.name).toBe(secret?.metadata.name);
      passwords[entry.name] = Buffer.from(secret?.data[ref.key], "base64").toString("utf8");
      // nats-server parses the variable's value as config (docs/security.md).
      expect(isNatsSafePassword(passwords[entry.name] ?? "")).toBe(true);
    }
    expect(Object.keys(passwords)).toHaveLength(6);
    const result = await run(findNatsServer() ?? "nats-server", ["-t", "-c", file], {
      env: { ...process.env, SERVER_NAME: "nats-0", ...passwords },
    });
    expect(result.stdout + result.stderr).toContain("is valid");
    // Herald's identities are the generated ones; monitoring (unauthenticated) stays inside the pod.
    expect(config?.data["auth.conf"]).toBe(readFileSync(join(repoRoot, "k8s", "nats", "auth.conf"), "utf8"));
    expect(conf).toMatch(/^http: "127\.0\.0\.1:8222"$/m);
    expect(conf).toMatch(/^include \.\/auth\.conf$/m);
    for (const service of byKind(objects, "Service")) {
      for (const port of service.spec.ports) expect(port.port, service.metadata.name).not.toBe(8222);
    }
    // Each service connects as its own identity, with its own key of the Secret.
    for (const deployment of byKind(objects, "Deployment")) {
      const component = deployment.metadata.labels["app.kubernetes.io/component"];
      const env = Object.fromEntries(
        deployment.spec.template.spec.containers[0].env.map((e: Loose) => [e.name, e.value ?? e.valueFrom]),
      );
      expect(env.NATS_USER).toBe(`herald-${component}`);
      expect(env.NATS_PASSWORD).toEqual({ secretKeyRef: { name: secret?.metadata.name, key: component } });
    }
    const pdb = byKind(objects, "PodDisruptionBudget").find((p) => p.metadata.name === "nats");
    expect(pdb?.spec.maxUnavailable).toBe(1);
    // Services find the cluster through the client Service.
    expect(byKind(objects, "ConfigMap").find((cm) => cm.data?.NATS_URL)?.data.NATS_URL).toBe(
      "nats://nats:4222",
    );
  });
});
