import { describe, expect, it } from "vitest";
import { byKind, componentObject, deploymentEnv, helm, render } from "./helm.js";

const HASH = "a".repeat(64);

describe("router.httpPublish", () => {
  it("is off by default: no env, port or Service", async () => {
    const objects = await render();
    expect(
      Object.keys(deploymentEnv(objects, "router")).filter((name) => name.includes("HTTP_PUBLISH")),
    ).toEqual([]);
    expect(byKind(objects, "Service").map((s) => s.metadata.name)).not.toContain("rel-herald-router-http");
  });

  it("renders the port, a ClusterIP Service, the env, the secret file and a NetworkPolicy rule", async () => {
    const objects = await render({
      set: {
        "router.httpPublish.enabled": "true",
        "router.httpPublish.apiKeyHashes[0]": HASH,
        "router.httpPublish.existingSecret": "publish-secrets",
        "router.httpPublish.apiKeysKey": "api-keys",
        "router.httpPublish.jwtSecretKey": "jwt",
        "router.httpPublish.burst": "50",
        "networkPolicy.enabled": "true",
        "router.httpPublish.from[0].podSelector.matchLabels.app": "billing",
      },
    });
    expect(deploymentEnv(objects, "router")).toMatchObject({
      HERALD_HTTP_PUBLISH_PORT: "8081",
      HERALD_HTTP_PUBLISH_API_KEY_HASHES: HASH,
      HERALD_HTTP_PUBLISH_API_KEYS_FILE: "/etc/herald/http-publish/api-keys",
      HERALD_HTTP_PUBLISH_JWT_SECRET: "secret:publish-secrets/jwt",
      HERALD_HTTP_PUBLISH_BURST: "50",
    });
    const pod = componentObject(objects, "Deployment", "router")!.spec.template.spec;
    expect(pod.containers[0].ports).toContainEqual({
      name: "http-publish",
      containerPort: 8081,
      protocol: "TCP",
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: "http-publish",
      mountPath: "/etc/herald/http-publish",
      readOnly: true,
    });
    expect(pod.volumes.find((v: { name: string }) => v.name === "http-publish").secret.secretName).toBe(
      "publish-secrets",
    );
    const service = byKind(objects, "Service").find((s) => s.metadata.name === "rel-herald-router-http");
    expect(service?.spec).toMatchObject({
      type: "ClusterIP",
      ports: [{ name: "http-publish", port: 8081, targetPort: "http-publish", protocol: "TCP" }],
    });
    const policy = componentObject(objects, "NetworkPolicy", "router")!;
    expect(policy.spec.ingress).toContainEqual({
      ports: [{ port: "http-publish", protocol: "TCP" }],
      from: [{ podSelector: { matchLabels: { app: "billing" } } }],
    });
  });

  it("refuses an API with no way to authenticate, or on the admin port", async () => {
    const noAuth = await helm([
      "template",
      "rel",
      "charts/herald",
      "--set",
      "router.httpPublish.enabled=true",
    ]);
    expect(noAuth.code).not.toBe(0);
    expect(noAuth.stderr).toMatch(/router.httpPublish.enabled needs/);
    const adminPort = await helm([
      "template",
      "rel",
      "charts/herald",
      "--set",
      "router.httpPublish.enabled=true",
      "--set",
      `router.httpPublish.apiKeyHashes[0]=${HASH}`,
      "--set",
      "router.httpPublish.port=9090",
    ]);
    expect(adminPort.stderr).toMatch(/must differ from config.adminPort/);
  });
});
