import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { findNatsServer } from "../fixtures/nats-server.js";
import { byKind, type K8sObject, parseManifests, repoRoot, tools } from "./helm.js";
import { validateObject } from "./validate.js";

const run = promisify(execFile);
const build = async (overlay: string): Promise<K8sObject[]> => {
  const { stdout } = await run(tools().kubectl, ["kustomize", join(repoRoot, "k8s", "overlays", overlay)]);
  return parseManifests(stdout);
};
const scratch = mkdtempSync(join(tmpdir(), "herald-k8s-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

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
    const result = await run(findNatsServer() ?? "nats-server", ["-t", "-c", file], {
      env: { ...process.env, SERVER_NAME: "nats-0" },
    });
    expect(result.stdout + result.stderr).toContain("is valid");
    const pdb = byKind(objects, "PodDisruptionBudget").find((p) => p.metadata.name === "nats");
    expect(pdb?.spec.maxUnavailable).toBe(1);
    // Services find the cluster through the client Service.
    expect(byKind(objects, "ConfigMap").find((cm) => cm.data?.NATS_URL)?.data.NATS_URL).toBe(
      "nats://nats:4222",
    );
  });
});
