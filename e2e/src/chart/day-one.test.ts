// What a platform team hits on day one (issue 19): one describe per finding, each able to fail on the chart as
// it was before the fix.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  byKind,
  bytes,
  type Component,
  chartDir,
  chartValues,
  ciValuesFiles,
  componentObject,
  components,
  deploymentEnv,
  helm,
  type K8sObject,
  type Loose,
  render,
  repoRoot,
} from "./helm.js";

const deployment = (objects: K8sObject[], component: Component): K8sObject => {
  const found = componentObject(objects, "Deployment", component);
  if (!found) throw new Error(`no Deployment for ${component}`);
  return found;
};
const mainContainer = (objects: K8sObject[], component: Component): Loose =>
  deployment(objects, component).spec.template.spec.containers[0];
const services = (objects: K8sObject[], component: string) =>
  byKind(objects, "Service").filter((s) => s.metadata.labels?.["app.kubernetes.io/component"] === component);
const digest = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
/** Helm's answer to values that break the schema or a template's `fail`. */
async function renderError(set: Record<string, string>, valuesFiles: string[] = []): Promise<string> {
  const args = ["template", "rel", chartDir];
  for (const file of valuesFiles) args.push("--values", join(chartDir, "ci", file));
  for (const [key, value] of Object.entries(set)) args.push("--set", `${key}=${value}`);
  const result = await helm(args);
  expect(result.code, `expected the render to fail: ${JSON.stringify(set)}`).not.toBe(0);
  return result.stderr;
}

const scratch = mkdtempSync(join(tmpdir(), "herald-chart-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("1. image digests are per component", () => {
  it("pins each component to its own digest and leaves the others alone", async () => {
    const objects = await render({
      set: { "connector.image.digest": digest(1), "persistence.image.digest": digest(2) },
    });
    expect(mainContainer(objects, "connector").image).toBe(`ghcr.io/herald/connector:0.1.0@${digest(1)}`);
    expect(mainContainer(objects, "persistence").image).toBe(`ghcr.io/herald/persistence:0.1.0@${digest(2)}`);
    expect(mainContainer(objects, "router").image).toBe("ghcr.io/herald/router:0.1.0");
    // The helm test pod runs in the connector image, so it takes the connector's digest.
    expect(byKind(objects, "Pod")[0]?.spec.containers[0].image).toBe(
      mainContainer(objects, "connector").image,
    );
  });

  it("rejects one chart-wide image.digest, which cannot fit four different images", async () => {
    expect(await renderError({ "image.digest": digest(3) })).toMatch(/schema[\s\S]*digest/);
    expect(await renderError({ "router.image.digest": "sha256:short" })).toMatch(/schema/);
  });

  it("the production example pins four different digests", async () => {
    const objects = await render({ valuesFiles: ["production-values.yaml"] });
    const images = components.map((c) => mainContainer(objects, c).image as string);
    for (const image of images)
      expect(image).toMatch(/^registry\.example\.com\/platform\/herald\/\w+:0\.1\.0@sha256:[a-f0-9]{64}$/);
    expect(new Set(images.map((image) => image.split("@")[1])).size).toBe(4);
  });
});

/** The connector's RSS per connection the chart's values are sized with (the formula beside them). */
const CONNECTOR_BYTES_PER_CONNECTION = 25_000;

// Measured memory (bench/results; README: the connector's RSS per connection at 10,000 connections while each
// receives one message per second, presence 962 bytes). The bench files are read when present so that a new
// measurement that grows past the chart's sizing fails here.
function measured(): {
  connectorIdle: number;
  perConnection: number;
  presenceIdle: number;
  presencePer: number;
} {
  const read = (name: string): Loose => {
    const file = join(repoRoot, "bench", "results", name);
    return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined;
  };
  const connector = read("idle-latest.json")?.idle?.herald;
  const presenceMemory = read("presence-latest.json")?.results?.memory;
  return {
    connectorIdle: Math.max(100 * 2 ** 20, connector?.rssBeforeBytes ?? 0),
    perConnection: Math.max(
      CONNECTOR_BYTES_PER_CONNECTION,
      connector?.perConnectionBytes ?? 0,
      connector?.active?.perConnectionBytes ?? 0,
    ),
    presenceIdle: Math.max(80 * 2 ** 20, presenceMemory?.rssEmptyBytes ?? 0),
    presencePer: Math.max(1024, presenceMemory?.rssBytesPerConnection ?? 0),
  };
}

/** Where the rendered resources cannot hold the connections the values ask for. */
function sizingProblems(objects: K8sObject[], values: Loose): string[] {
  const m = measured();
  const problems: string[] = [];
  const connector = values.connector;
  const perPod = Number(connector.autoscaling.connections.averageValue);
  const pods = connector.autoscaling.enabled ? connector.autoscaling.maxReplicas : connector.replicaCount;
  const c = mainContainer(objects, "connector").resources;
  const need = m.connectorIdle + perPod * m.perConnection;
  if (bytes(c.requests.memory) < need)
    problems.push(`connector request ${c.requests.memory} < ${(need / 2 ** 20).toFixed(0)}Mi for ${perPod}`);
  if (bytes(c.limits.memory) < bytes(c.requests.memory)) problems.push("connector limit below its request");
  // Every presence replica holds the whole install's registry: its limit bounds the install, whatever replicas.
  const p = mainContainer(objects, "presence").resources;
  const total = pods * perPod;
  const presenceNeed = m.presenceIdle + total * m.presencePer;
  if (bytes(p.limits.memory) < presenceNeed)
    problems.push(
      `presence limit ${p.limits.memory} < ${(presenceNeed / 2 ** 20).toFixed(0)}Mi for ${total}`,
    );
  return problems;
}

describe("2. autoscaling and sizing follow how the services scale", () => {
  it("has no autoscaler for presence (every replica holds everything); the router's stops at its lanes", async () => {
    expect(await renderError({ "presence.autoscaling.enabled": "true" })).toMatch(/schema[\s\S]*autoscaling/);
    expect(chartValues().presence.autoscaling).toBeUndefined();
    for (const file of ciValuesFiles()) {
      const hpas = byKind(await render({ valuesFiles: [file] }), "HorizontalPodAutoscaler");
      const scaled = hpas.map((h) => h.metadata.labels["app.kubernetes.io/component"]);
      expect(scaled, file).not.toContain("presence");
    }
    // Router replicas share the intake's lanes: the partitions (8 unless set) and the unpartitioned one.
    const router = componentObject(
      await render({ set: { "router.autoscaling.enabled": "true" } }),
      "HorizontalPodAutoscaler",
      "router",
    );
    expect(router?.spec.maxReplicas).toBe(8 + 1);
    expect(router?.spec.metrics).toHaveLength(1);
  });

  it("sizes connector memory from the measured RSS per connection at its target, and presence for the install", async () => {
    for (const file of [undefined, ...ciValuesFiles()]) {
      const objects = await render({ valuesFiles: file ? [file] : [] });
      expect(sizingProblems(objects, chartValues(file)), file ?? "defaults").toEqual([]);
    }
  });

  it("the sizing check fails on the old defaults (128Mi connector request, 256Mi presence limit)", async () => {
    const old = await render({
      valuesFiles: ["production-values.yaml"],
      set: { "connector.resources.requests.memory": "128Mi", "presence.resources.limits.memory": "256Mi" },
    });
    const problems = sizingProblems(old, chartValues("production-values.yaml"));
    expect(problems.join("\n")).toMatch(/connector request 128Mi/);
    expect(problems.join("\n")).toMatch(/presence limit 256Mi/);
  });

  it("documents the formula next to the values", () => {
    const text = readFileSync(join(chartDir, "values.yaml"), "utf8");
    expect(text).toMatch(/request = 100Mi \+ connections per pod x 25 kB/);
    expect(text).toMatch(/limit = 80Mi \+ total connections x 1 KiB/);
  });
});

describe("3. the admin port is never on the public Service", () => {
  it.each(ciValuesFiles())("%s: public Service has the WebSocket port only", async (file) => {
    const objects = await render({ valuesFiles: [file] });
    const [pub, admin, ...rest] = services(objects, "connector").sort((a, b) =>
      a.metadata.name.localeCompare(b.metadata.name),
    );
    expect(rest).toEqual([]);
    expect(pub?.metadata.name).toBe("rel-herald-connector");
    expect(pub?.spec.ports.map((p: { name: string }) => p.name)).toEqual(["ws"]);
    expect(admin?.metadata.name).toBe("rel-herald-connector-admin");
    expect(admin?.spec.type).toBe("ClusterIP");
    expect(admin?.spec.ports).toEqual([{ name: "admin", port: 9090, targetPort: "admin", protocol: "TCP" }]);
    // No Service reachable from outside the cluster carries the admin port.
    for (const service of byKind(objects, "Service")) {
      if (service.spec.type === "ClusterIP") continue;
      expect(service.spec.ports.map((p: { name: string }) => p.name)).not.toContain("admin");
    }
  });

  it("sets externalTrafficPolicy, loadBalancerSourceRanges and loadBalancerClass on a LoadBalancer", async () => {
    const objects = await render({ valuesFiles: ["loadbalancer-values.yaml"] });
    const pub = byKind(objects, "Service").find((s) => s.metadata.name === "rel-herald-connector");
    expect(pub?.spec).toMatchObject({
      type: "LoadBalancer",
      externalTrafficPolicy: "Local",
      loadBalancerClass: "service.k8s.aws/nlb",
      loadBalancerSourceRanges: ["203.0.113.0/24", "198.51.100.0/24"],
      ports: [{ name: "ws", port: 443, targetPort: "ws", protocol: "TCP" }],
    });
    const defaults = byKind(await render(), "Service").find(
      (s) => s.metadata.name === "rel-herald-connector",
    );
    expect(defaults?.spec.externalTrafficPolicy).toBeUndefined();
    expect(defaults?.spec.loadBalancerSourceRanges).toBeUndefined();
    expect(await renderError({ "connector.service.loadBalancerClass": "x" })).toMatch(
      /need connector\.service\.type LoadBalancer/,
    );
    expect(await renderError({ "connector.service.externalTrafficPolicy": "Local" })).toMatch(
      /NodePort or LoadBalancer/,
    );
  });

  it("scrapes the connector through its admin Service, keeping the job name the alerts use", async () => {
    const objects = await render({ set: { "metrics.serviceMonitor.enabled": "true" } });
    const monitor = componentObject(objects, "ServiceMonitor", "connector");
    const selected = byKind(objects, "Service").filter((s) =>
      Object.entries(monitor?.spec.selector.matchLabels).every(([k, v]) => s.metadata.labels[k] === v),
    );
    const withPort = selected.filter((s) => s.spec.ports.some((p: { name: string }) => p.name === "admin"));
    expect(withPort.map((s) => s.metadata.name)).toEqual(["rel-herald-connector-admin"]);
    expect(monitor?.spec.endpoints[0].relabelings[0]).toEqual({
      targetLabel: "job",
      replacement: "rel-herald-connector",
    });
  });
});

describe("4. a chart-only release restarts no pod", () => {
  /** A copy of the chart with another version (and a docs change), as a docs-only release would ship. */
  function bumpedChart(): string {
    const copy = join(scratch, "bumped");
    cpSync(chartDir, copy, { recursive: true });
    const chartFile = join(copy, "Chart.yaml");
    writeFileSync(chartFile, readFileSync(chartFile, "utf8").replace(/^version: .*$/m, "version: 0.1.1"));
    writeFileSync(join(copy, "README.md"), "docs only\n");
    return copy;
  }

  it.each(ciValuesFiles())("%s: pod templates are identical across chart versions", async (file) => {
    const copy = existsSync(join(scratch, "bumped")) ? join(scratch, "bumped") : bumpedChart();
    const before = await render({ valuesFiles: [file] });
    const after = await render({ valuesFiles: [file], chart: copy });
    for (const component of components) {
      const [a, b] = [deployment(before, component), deployment(after, component)];
      // The chart version is still on the Deployment itself (no restart), so the copy did change something.
      expect(b.metadata.labels["helm.sh/chart"]).toBe("herald-0.1.1");
      expect(a.metadata.labels["helm.sh/chart"]).toBe("herald-0.1.0");
      expect(b.spec.template, `${component} pod template`).toEqual(a.spec.template);
      expect(a.spec.template.metadata.labels["helm.sh/chart"]).toBeUndefined();
    }
  });

  it("labels pods with the image tag they run, not the chart's appVersion", async () => {
    const objects = await render({ set: { "router.image.tag": "0.2.0-rc.1" } });
    expect(deployment(objects, "router").spec.template.metadata.labels["app.kubernetes.io/version"]).toBe(
      "0.2.0-rc.1",
    );
    expect(deployment(objects, "connector").spec.template.metadata.labels["app.kubernetes.io/version"]).toBe(
      "0.1.0",
    );
  });
});

describe("5. helm test matches the install's auth", () => {
  const testPod = (objects: K8sObject[]) => byKind(objects, "Pod")[0];
  const testEnv = (objects: K8sObject[]) =>
    Object.fromEntries(
      (testPod(objects)?.spec.containers[0].env ?? []).map(
        (e: { name: string; value?: string; valueFrom?: Loose }) => [
          e.name,
          e.valueFrom?.secretKeyRef
            ? `secret:${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`
            : e.value,
        ],
      ),
    );

  it("gives the test pod the issuer and audience the connector requires, and the script signs them", async () => {
    const objects = await render({ valuesFiles: ["dev-values.yaml"] });
    expect(testEnv(objects)).toMatchObject({
      HERALD_JWT_ISSUER: deploymentEnv(objects, "connector").HERALD_JWT_ISSUER,
      HERALD_JWT_AUDIENCE: deploymentEnv(objects, "connector").HERALD_JWT_AUDIENCE,
    });
    const script = byKind(objects, "ConfigMap").find((cm) => cm.data?.["roundtrip.mjs"])?.data[
      "roundtrip.mjs"
    ];
    expect(script).toMatch(/setIssuer\(env\.HERALD_JWT_ISSUER\)/);
    expect(script).toMatch(/setAudience\(env\.HERALD_JWT_AUDIENCE\)/);
  });

  it("with JWKS-only auth: a token from tests.token, or a clear skip", async () => {
    const withToken = await render({ valuesFiles: ["gateway-jwks-values.yaml"] });
    expect(testEnv(withToken)).toMatchObject({ HERALD_TEST_TOKEN: "secret:herald-test-token/token" });
    expect(testEnv(withToken).HERALD_JWT_SECRET).toBeUndefined();
    const without = await render({ valuesFiles: ["loadbalancer-values.yaml"] });
    expect(testPod(without)).toBeDefined();
    expect(testEnv(without).HERALD_TEST_TOKEN).toBeUndefined();
    expect(testEnv(without).HERALD_JWT_SECRET).toBeUndefined();
    const { stdout } = await helm([
      "install",
      "rel",
      chartDir,
      "--dry-run=client",
      "-f",
      join(chartDir, "ci", "loadbalancer-values.yaml"),
    ]);
    expect(stdout).toMatch(/cannot mint a token: it checks NATS and the connector and skips the round trip/);
  });
});

describe("6. no retired ingress-nginx defaults; NetworkPolicy that lets traffic through", () => {
  it("assumes no ingress controller in values, Ingress or NetworkPolicy", async () => {
    expect(JSON.stringify(chartValues())).not.toMatch(/nginx/i);
    const objects = await render({ set: { "connector.ingress.enabled": "true" } });
    const [ingress] = byKind(objects, "Ingress");
    expect(ingress?.spec.ingressClassName).toBeUndefined();
    expect(ingress?.metadata.annotations).toBeUndefined();
  });

  it("fails instead of blocking every client when an Ingress or HTTPRoute has no allowed source", async () => {
    for (const set of [
      { "connector.ingress.enabled": "true" },
      { "connector.httpRoute.enabled": "true", "connector.httpRoute.parentRefs[0].name": "gw" },
    ]) {
      expect(await renderError({ ...set, "networkPolicy.enabled": "true" })).toMatch(
        /set networkPolicy\.ingressFrom/,
      );
    }
  });

  it("admits the gateway's proxy pods to the WebSocket port with an HTTPRoute", async () => {
    const objects = await render({ valuesFiles: ["gateway-jwks-values.yaml"] });
    const policy = componentObject(objects, "NetworkPolicy", "connector");
    const ws = policy?.spec.ingress.find((r: Loose) => r.ports.some((p: Loose) => p.port === "ws"));
    expect(ws.from[0]).toEqual(chartValues("gateway-jwks-values.yaml").networkPolicy.ingressFrom[0]);
    expect(ws.from).toHaveLength(2); // and the helm test pod
  });

  it("lets the connector, and only it, reach the JWKS URL's port", async () => {
    const egressPorts = (objects: K8sObject[], component: Component): number[] =>
      componentObject(objects, "NetworkPolicy", component)?.spec.egress.flatMap((r: Loose) =>
        r.ports.map((p: Loose) => p.port),
      );
    const https = await render({ valuesFiles: ["gateway-jwks-values.yaml"] });
    expect(egressPorts(https, "connector")).toEqual([4222, 53, 53, 443]);
    expect(egressPorts(https, "router")).toEqual([4222, 53, 53]);
    const custom = await render({ valuesFiles: ["loadbalancer-values.yaml"] });
    const rule = componentObject(custom, "NetworkPolicy", "connector")?.spec.egress.at(-1);
    expect(rule).toEqual({
      ports: [{ port: 8443, protocol: "TCP" }],
      to: [{ ipBlock: { cidr: "192.0.2.10/32" } }],
    });
    const noJwks = await render({ set: { "networkPolicy.enabled": "true" } });
    expect(egressPorts(noJwks, "connector")).toEqual([4222, 53, 53]);
  });

  it("takes the DNS selector and ports from values", async () => {
    const objects = await render({
      set: {
        "networkPolicy.enabled": "true",
        "networkPolicy.dns.namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name": "dns",
        "networkPolicy.dns.podSelector.matchLabels.app": "node-local-dns",
        "networkPolicy.dns.ports[0]": "5353",
      },
    });
    const dns = componentObject(objects, "NetworkPolicy", "router")?.spec.egress[1];
    expect(dns).toEqual({
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dns" } },
          podSelector: { matchLabels: { app: "node-local-dns", "k8s-app": "kube-dns" } },
        },
      ],
      ports: [
        { port: 5353, protocol: "UDP" },
        { port: 5353, protocol: "TCP" },
      ],
    });
  });
});

describe("7. extension points", () => {
  it("renders none of them by default", async () => {
    const objects = await render();
    for (const component of components) {
      const spec = deployment(objects, component).spec.template.spec;
      expect(spec.initContainers, component).toBeUndefined();
      expect(spec.containers, component).toHaveLength(1);
      expect(spec.containers[0].envFrom, component).toBeUndefined();
      expect(
        spec.volumes.map((v: { name: string }) => v.name),
        component,
      ).toEqual(["tmp"]);
      expect(spec.imagePullSecrets, component).toBeUndefined();
    }
    expect(objects.filter((o) => !o.metadata.labels?.["app.kubernetes.io/part-of"])).toEqual([]);
  });

  it("adds volumes (a private CA), init containers, sidecars, envFrom, probes and extra objects", async () => {
    const objects = await render({ valuesFiles: ["extensions-values.yaml"] });
    const spec = deployment(objects, "connector").spec.template.spec;
    expect(spec.initContainers.map((c: { name: string }) => c.name)).toEqual(["wait-for-sso"]);
    expect(spec.containers.map((c: { name: string }) => c.name)).toEqual(["connector", "log-shipper"]);
    const [main] = spec.containers;
    expect(main.envFrom).toEqual([{ configMapRef: { name: "herald-connector-tuning" } }]);
    expect(spec.volumes).toContainEqual({ name: "corp-ca", configMap: { name: "rel-corp-ca" } });
    expect(main.volumeMounts).toContainEqual({
      name: "corp-ca",
      mountPath: "/etc/herald/ca",
      readOnly: true,
    });
    expect(deploymentEnv(objects, "connector").NODE_EXTRA_CA_CERTS).toBe("/etc/herald/ca/ca.crt");
    // Probes: global startup override everywhere, the connector's own readiness, persistence's own handler.
    for (const component of components) {
      expect(mainContainer(objects, component).startupProbe).toMatchObject({
        failureThreshold: 120,
        periodSeconds: 2,
      });
    }
    expect(main.readinessProbe).toEqual({
      httpGet: { path: "/readyz", port: "admin" },
      periodSeconds: 3,
      failureThreshold: 2,
      timeoutSeconds: 2,
    });
    expect(mainContainer(objects, "router").readinessProbe.periodSeconds).toBe(5);
    expect(mainContainer(objects, "persistence").livenessProbe).toEqual({
      tcpSocket: { port: "admin" },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      failureThreshold: 3,
      timeoutSeconds: 2,
    });
    // Only the connector got the extras.
    expect(deployment(objects, "router").spec.template.spec.containers).toHaveLength(1);
    const configMaps = byKind(objects, "ConfigMap").map((cm) => cm.metadata.name);
    expect(configMaps).toContain("rel-corp-ca");
    expect(
      byKind(objects, "ConfigMap").find((cm) => cm.metadata.name === "herald-connector-tuning")?.metadata
        .labels,
    ).toEqual({
      "app.kubernetes.io/instance": "rel",
    });
    const monitor = componentObject(objects, "ServiceMonitor", "router");
    expect(monitor?.spec.endpoints[0].relabelings).toEqual([
      { sourceLabels: ["__meta_kubernetes_pod_node_name"], targetLabel: "node" },
    ]);
    expect(monitor?.spec.endpoints[0].metricRelabelings[0]).toMatchObject({ action: "drop" });
  });

  it("reads global image and label settings shared with subcharts; the chart's own win", async () => {
    const objects = await render({ valuesFiles: ["nkey-tls-values.yaml"] });
    for (const component of components) {
      const spec = deployment(objects, component).spec.template.spec;
      expect(spec.containers[0].image).toMatch(new RegExp(`^mirror\\.example\\.com/herald/${component}:`));
      expect(spec.imagePullSecrets).toEqual([{ name: "mirror-credentials" }]);
      expect(deployment(objects, component).spec.template.metadata.labels["cost-center"]).toBe("push");
    }
    expect(objects.filter((o) => o.metadata.labels?.["cost-center"] !== "push")).toEqual([]);
    const own = await render({
      valuesFiles: ["nkey-tls-values.yaml"],
      set: {
        "image.registry": "own.example",
        "image.pullSecrets[0]": "own",
        "commonLabels.cost-center": "mine",
      },
    });
    const spec = deployment(own, "router").spec.template.spec;
    expect(spec.containers[0].image).toMatch(/^own\.example\//);
    expect(spec.imagePullSecrets).toEqual([{ name: "own" }, { name: "mirror-credentials" }]);
    expect(deployment(own, "router").metadata.labels["cost-center"]).toBe("mine");
  });

  it("has an icon, maintainers and Artifact Hub metadata", () => {
    const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8"));
    expect(chart.icon).toMatch(/^https:\/\/.+\.svg$/);
    expect(existsSync(join(chartDir, chart.icon.split("/charts/herald/")[1]))).toBe(true);
    expect(chart.maintainers.length).toBeGreaterThan(0);
    expect(chart.annotations["artifacthub.io/category"]).toBe("streaming-messaging");
    for (const key of ["artifacthub.io/images", "artifacthub.io/links", "artifacthub.io/changes"]) {
      expect(Array.isArray(parse(chart.annotations[key])), key).toBe(true);
    }
  });

  it("the umbrella example pins the NATS chart's current major, 2.x, with JetStream on three nodes", () => {
    const example = join(chartDir, "examples", "with-nats");
    const chart = parse(readFileSync(join(example, "Chart.yaml"), "utf8"));
    const nats = chart.dependencies.find((d: { name: string }) => d.name === "nats");
    expect(nats.version).toMatch(/^[\^~]?2\./);
    const values = parse(readFileSync(join(example, "values.yaml"), "utf8")).nats;
    expect(values.config.cluster).toMatchObject({ enabled: true, replicas: 3 });
    expect(values.config.jetstream.enabled).toBe(true);
  });
});
