import { describe, expect, it } from "vitest";
import {
  byKind,
  type Component,
  componentObject,
  components,
  deploymentEnv,
  helm,
  type K8sObject,
  type Loose,
  render,
} from "./helm.js";

const podSpec = (deployment: K8sObject): Loose => deployment.spec.template.spec;
/** The connector's public Service (named like its Deployment; the admin one ends in `-admin`). */
const publicService = (objects: K8sObject[]) =>
  byKind(objects, "Service").find((s) => s.metadata.name === deployment(objects, "connector").metadata.name);
const deployment = (objects: K8sObject[], component: Component): K8sObject => {
  const found = componentObject(objects, "Deployment", component);
  if (!found) throw new Error(`no Deployment for ${component}`);
  return found;
};

describe("defaults", () => {
  it("renders a Deployment and a Service per component, and no optional object", async () => {
    const objects = await render();
    for (const component of components) {
      expect(componentObject(objects, "Deployment", component), component).toBeDefined();
      expect(componentObject(objects, "Service", component), component).toBeDefined();
    }
    for (const kind of [
      "PodDisruptionBudget",
      "HorizontalPodAutoscaler",
      "NetworkPolicy",
      "ServiceMonitor",
      "PrometheusRule",
      "Ingress",
      "HTTPRoute",
    ]) {
      expect(byKind(objects, kind), `${kind} off by default`).toEqual([]);
    }
  });

  it("renders no Secret by default", async () => {
    expect(byKind(await render(), "Secret")).toEqual([]);
  });

  it("renders a Secret only for auth.createSecret without an existing Secret", async () => {
    const created = await render({
      set: { "auth.existingSecret": "", "auth.createSecret": "dev-secret-0123456789-0123456789" },
    });
    const [secret] = byKind(created, "Secret");
    expect(Buffer.from(secret?.data["jwt-secret"], "base64").toString()).toBe(
      "dev-secret-0123456789-0123456789",
    );
    expect(deploymentEnv(created, "connector").HERALD_JWT_SECRET).toBe(
      `secret:${secret?.metadata.name}/jwt-secret`,
    );
    const existing = await render({
      set: { "auth.existingSecret": "mine", "auth.createSecret": "dev-secret-0123456789-0123456789" },
    });
    expect(byKind(existing, "Secret")).toEqual([]);
  });

  it("fails with a clear message when the connector has no way to verify tokens", async () => {
    await expect(render({ set: { "auth.existingSecret": "" } })).rejects.toThrow(/needs a JWT key/);
    await expect(
      render({ set: { "auth.existingSecret": "", "auth.jwksUrl": "https://id.example/jwks" } }),
    ).rejects.toThrow(/auth.audience is required/);
    const jwks = await render({
      set: { "auth.existingSecret": "", "auth.jwksUrl": "https://id.example/jwks", "auth.audience": "push" },
    });
    expect(deploymentEnv(jwks, "connector").HERALD_JWKS_URL).toBe("https://id.example/jwks");
    expect(deploymentEnv(jwks, "connector").HERALD_JWT_SECRET).toBeUndefined();
    const claims = await render({ set: { "auth.issuer": "https://id.example", "auth.audience": "push" } });
    expect(deploymentEnv(claims, "connector")).toMatchObject({
      HERALD_JWT_ISSUER: "https://id.example",
      HERALD_JWT_AUDIENCE: "push",
    });
  });
});

describe("pod security and lifecycle", () => {
  it("applies secure defaults to every container, including the helm test pod", async () => {
    const objects = await render();
    const pods = [
      ...byKind(objects, "Deployment").map(podSpec),
      ...byKind(objects, "Pod").map((pod) => pod.spec),
    ];
    expect(pods.length).toBe(5);
    for (const spec of pods) {
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        seccompProfile: { type: "RuntimeDefault" },
      });
      expect(spec.automountServiceAccountToken).toBe(false);
      for (const container of spec.containers) {
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(container.resources.requests.cpu).toBeTruthy();
        expect(container.resources.requests.memory).toBeTruthy();
        // A read-only root needs a writable /tmp.
        expect(container.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
      }
    }
  });

  it("probes readiness on /readyz and liveness on /healthz on the admin port", async () => {
    const objects = await render({ set: { "config.adminPort": "9191" } });
    for (const component of components) {
      const [container] = podSpec(deployment(objects, component)).containers;
      expect(container.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "admin" });
      expect(container.livenessProbe.httpGet).toEqual({ path: "/healthz", port: "admin" });
      expect(container.ports).toContainEqual({ name: "admin", containerPort: 9191, protocol: "TCP" });
      expect(deploymentEnv(objects, component).ADMIN_PORT).toBe("9191");
    }
    const [connector] = podSpec(deployment(objects, "connector")).containers;
    expect(connector.ports).toContainEqual({ name: "ws", containerPort: 8080, protocol: "TCP" });
  });

  it("fits the preStop sleep and the drain inside the termination grace", async () => {
    const objects = await render({
      set: {
        "shutdown.preStopSleepSeconds": "7",
        "shutdown.readinessDelaySeconds": "3",
        "shutdown.timeoutSeconds": "20",
      },
    });
    for (const component of components) {
      const spec = podSpec(deployment(objects, component));
      expect(spec.containers[0].lifecycle.preStop.exec.command).toEqual(["sleep", "7"]);
      expect(spec.terminationGracePeriodSeconds).toBe(7 + 20 + 5);
      const env = deploymentEnv(objects, component);
      expect(env.SHUTDOWN_DELAY).toBe("3s");
      expect(env.SHUTDOWN_TIMEOUT).toBe("20s");
    }
    await expect(render({ set: { "shutdown.terminationGracePeriodSeconds": "20" } })).rejects.toThrow(
      /must be at least preStopSleepSeconds \+ timeoutSeconds/,
    );
    const noHook = await render({ set: { "shutdown.preStopSleepSeconds": "0" } });
    expect(podSpec(deployment(noHook, "router")).containers[0].lifecycle).toBeUndefined();
  });

  it("has a checksum/config annotation that changes with the configuration only", async () => {
    const checksum = (objects: K8sObject[], component: Component) =>
      deployment(objects, component).spec.template.metadata.annotations["checksum/config"] as string;
    const base = await render();
    const again = await render();
    const changed = await render({ set: { "config.logLevel": "debug" } });
    const routerOnly = await render({ set: { "router.config.prefetch": "16" } });
    for (const component of components) {
      expect(checksum(base, component)).toMatch(/^[a-f0-9]{64}$/);
      expect(checksum(again, component)).toBe(checksum(base, component));
      expect(checksum(changed, component)).not.toBe(checksum(base, component));
    }
    expect(checksum(routerOnly, "router")).not.toBe(checksum(base, "router"));
    expect(checksum(routerOnly, "connector")).toBe(checksum(base, "connector"));
    const secretA = await render({
      set: { "auth.existingSecret": "", "auth.createSecret": "a".repeat(32) },
    });
    const secretB = await render({
      set: { "auth.existingSecret": "", "auth.createSecret": "b".repeat(32) },
    });
    expect(checksum(secretA, "connector")).not.toBe(checksum(secretB, "connector"));
  });

  it("spreads pods across nodes and zones", async () => {
    const objects = await render();
    for (const component of components) {
      const constraints = podSpec(deployment(objects, component)).topologySpreadConstraints;
      expect(constraints.map((c: { topologyKey: string }) => c.topologyKey)).toEqual([
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
      ]);
      for (const c of constraints) {
        expect(c.labelSelector.matchLabels["app.kubernetes.io/component"]).toBe(component);
      }
    }
  });
});

describe("environment", () => {
  it("renders plain env entries that can be read back", async () => {
    const objects = await render({
      release: "herald",
      set: {
        "natsConnection.urls[0]": "nats://a:4222",
        "natsConnection.urls[1]": "nats://{{ .Release.Name }}-nats:4222",
        "config.prefix": "acme",
        "config.streamReplicas": "3",
        "persistence.config.retention": "3d",
        "persistence.config.maxBacklog": "500",
        "persistence.config.routePartitions": "4",
        "persistence.config.cursorDelay": "250ms",
        "router.extraEnv[0].name": "EXTRA",
        "router.extraEnv[0].value": "yes",
        "router.config.ackWait": "4s",
        "router.config.leaseTtl": "2s",
        "presence.config.maxConnectionsPerUser": "3",
        "presence.config.connectionLimitPolicy": "refuse-newest",
      },
    });
    for (const component of components) {
      const env = deploymentEnv(objects, component);
      expect(env).toMatchObject({
        NATS_URL: "nats://a:4222,nats://herald-nats:4222",
        HERALD_PREFIX: "acme",
        HERALD_REPLICAS: "3",
        HERALD_CHANNEL_RETENTION: "*=100/24h",
        LOG_LEVEL: "info",
      });
      // Unset component settings are left out so the service default applies.
      expect(Object.values(env)).not.toContain("");
    }
    expect(deploymentEnv(objects, "persistence")).toMatchObject({
      HERALD_RETENTION: "3d",
      HERALD_MAX_BACKLOG: "500",
      HERALD_ROUTE_PARTITIONS: "4",
      PERSISTENCE_CURSOR_DELAY: "250ms",
    });
    expect(deploymentEnv(objects, "router").EXTRA).toBe("yes");
    expect(deploymentEnv(objects, "router")).toMatchObject({ ROUTER_ACK_WAIT: "4s", ROUTER_LEASE_TTL: "2s" });
    expect(deploymentEnv(objects, "presence")).toMatchObject({
      PRESENCE_MAX_CONNECTIONS_PER_USER: "3",
      PRESENCE_CONNECTION_LIMIT_POLICY: "refuse-newest",
    });
    expect(deploymentEnv(objects, "connector").HERALD_RETENTION).toBeUndefined();
    expect(deploymentEnv(objects, "connector").PORT).toBe("8080");
    // The connector's small young generation (values.yaml `connector.nodeOptions`); the others keep Node's.
    expect(deploymentEnv(objects, "connector").NODE_OPTIONS).toBe("--max-semi-space-size=8");
    // Fewer malloc arenas for the connector (`connector.mallocArenaMax`); the others keep glibc's.
    expect(deploymentEnv(objects, "connector").MALLOC_ARENA_MAX).toBe("2");
    for (const component of ["router", "presence", "persistence"] as const) {
      expect(deploymentEnv(objects, component).NODE_OPTIONS).toBeUndefined();
      expect(deploymentEnv(objects, component).MALLOC_ARENA_MAX).toBeUndefined();
    }
    const glibcDefault = await render({ set: { "connector.mallocArenaMax": "" } });
    expect(deploymentEnv(glibcDefault, "connector").MALLOC_ARENA_MAX).toBeUndefined();
  });

  it("takes NATS credentials from an existing Secret: env for user/password, mounted files for creds", async () => {
    const userPass = await render({
      set: { "natsConnection.auth.type": "userPassword", "natsConnection.auth.existingSecret": "nats-user" },
    });
    expect(deploymentEnv(userPass, "router")).toMatchObject({
      NATS_USER: "secret:nats-user/user",
      NATS_PASSWORD: "secret:nats-user/password",
    });
    const creds = await render({
      set: {
        "natsConnection.auth.type": "creds",
        "natsConnection.auth.existingSecret": "nats-creds",
        "natsConnection.tls.enabled": "true",
        "natsConnection.tls.existingSecret": "nats-tls",
      },
    });
    const spec = podSpec(deployment(creds, "presence"));
    expect(deploymentEnv(creds, "presence")).toMatchObject({
      NATS_CREDS_FILE: "/etc/herald/nats-auth/user.creds",
      NATS_TLS_CA_FILE: "/etc/herald/nats-tls/ca.crt",
    });
    expect(spec.volumes).toContainEqual({
      name: "nats-auth",
      secret: { secretName: "nats-creds", defaultMode: 0o440 },
    });
    expect(spec.containers[0].volumeMounts).toContainEqual({
      name: "nats-auth",
      mountPath: "/etc/herald/nats-auth",
      readOnly: true,
    });
    await expect(render({ set: { "natsConnection.auth.type": "token" } })).rejects.toThrow(
      /existingSecret is required/,
    );
  });

  it("gives each component its own NATS Secret (its own identity), falling back to existingSecret", async () => {
    const set: Record<string, string> = {
      "natsConnection.auth.type": "userPassword",
      "natsConnection.auth.existingSecret": "nats-shared",
      "natsConnection.auth.secrets.router": "herald-nats-router",
      "natsConnection.auth.secrets.presence": "herald-nats-presence",
      "natsConnection.auth.secrets.test": "herald-nats-publisher",
    };
    const objects = await render({ set });
    expect(deploymentEnv(objects, "router")).toMatchObject({
      NATS_USER: "secret:herald-nats-router/user",
      NATS_PASSWORD: "secret:herald-nats-router/password",
    });
    expect(deploymentEnv(objects, "presence").NATS_PASSWORD).toBe("secret:herald-nats-presence/password");
    expect(deploymentEnv(objects, "connector").NATS_PASSWORD).toBe("secret:nats-shared/password");
    const [testPod] = byKind(objects, "Pod");
    if (!testPod) throw new Error("no helm test pod");
    const testEnv = Object.fromEntries(
      (testPod.spec.containers[0].env as Loose[]).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name]),
    );
    expect(testEnv.NATS_PASSWORD).toBe("herald-nats-publisher");
    // Files (nkey, creds) come from the component's own Secret too.
    const creds = await render({
      set: { "natsConnection.auth.type": "creds", "natsConnection.auth.secrets.persistence": "creds-p" },
    }).catch((err: Error) => err);
    // A component with neither its own Secret nor the shared one fails the render, naming its entry.
    expect(String(creds)).toMatch(
      /existingSecret is required .*natsConnection\.auth\.secrets\.(connector|router|presence|test)\b/,
    );
    const allCreds = await render({
      set: {
        "natsConnection.auth.type": "creds",
        "natsConnection.auth.existingSecret": "creds-shared",
        "natsConnection.auth.secrets.persistence": "creds-p",
      },
    });
    expect(podSpec(deployment(allCreds, "persistence")).volumes).toContainEqual({
      name: "nats-auth",
      secret: { secretName: "creds-p", defaultMode: 0o440 },
    });
    expect(podSpec(deployment(allCreds, "router")).volumes).toContainEqual({
      name: "nats-auth",
      secret: { secretName: "creds-shared", defaultMode: 0o440 },
    });
  });
});

describe("optional objects", () => {
  it("renders a PDB per component when enabled", async () => {
    const objects = await render({
      set: Object.fromEntries(components.map((c) => [`${c}.pdb.enabled`, "true"])),
    });
    for (const component of components) {
      const pdb = componentObject(objects, "PodDisruptionBudget", component);
      expect(pdb?.spec).toEqual({
        maxUnavailable: 1,
        selector: { matchLabels: deployment(objects, component).spec.selector.matchLabels },
      });
    }
  });

  it("scales on CPU, and the connector also on connections when asked", async () => {
    const cpuOnly = await render({ set: { "connector.autoscaling.enabled": "true" } });
    const hpa = componentObject(cpuOnly, "HorizontalPodAutoscaler", "connector");
    expect(hpa?.spec.metrics).toHaveLength(1);
    expect(deployment(cpuOnly, "connector").spec.replicas).toBeUndefined();
    const both = await render({
      set: { "connector.autoscaling.enabled": "true", "connector.autoscaling.connections.enabled": "true" },
    });
    const metrics = componentObject(both, "HorizontalPodAutoscaler", "connector")?.spec.metrics;
    expect(metrics[1]).toMatchObject({
      type: "Pods",
      pods: { metric: { name: "herald_connector_connections" } },
    });
  });

  it("exposes the connector through an Ingress of the chosen class, or an HTTPRoute", async () => {
    const objects = await render({
      set: {
        "connector.ingress.enabled": "true",
        "connector.ingress.className": "haproxy",
        "connector.ingress.annotations.haproxy\\.org/timeout-tunnel": "1h",
      },
    });
    const [ingress] = byKind(objects, "Ingress");
    expect(ingress?.spec.ingressClassName).toBe("haproxy");
    expect(ingress?.metadata.annotations).toEqual({ "haproxy.org/timeout-tunnel": "1h" });
    expect(ingress?.spec.rules[0].http.paths[0].backend.service).toEqual({
      name: publicService(objects)?.metadata.name,
      port: { name: "ws" },
    });
    const route = await render({
      set: { "connector.httpRoute.enabled": "true", "connector.httpRoute.parentRefs[0].name": "gw" },
    });
    expect(byKind(route, "HTTPRoute")[0]?.spec.rules[0].timeouts).toEqual({ request: "0s" });
    // The Server-Sent Events fallback is routed beside the WebSocket by both.
    const paths = (ingress?.spec.rules[0].http.paths ?? []).map((p: { path: string }) => p.path);
    expect(paths).toEqual(["/ws", "/sse"]);
    const matches = byKind(route, "HTTPRoute")[0]?.spec.rules[0].matches ?? [];
    expect(matches.map((m: { path: { value: string } }) => m.path.value)).toEqual(["/ws", "/sse"]);
  });

  it("renders monitoring objects behind their flags", async () => {
    const objects = await render({
      set: {
        "metrics.serviceMonitor.enabled": "true",
        "metrics.prometheusRule.enabled": "true",
        "metrics.grafanaDashboard.enabled": "true",
      },
    });
    expect(byKind(objects, "ServiceMonitor")).toHaveLength(4);
    for (const monitor of byKind(objects, "ServiceMonitor")) {
      expect(monitor.spec.endpoints[0]).toMatchObject({ port: "admin", path: "/metrics" });
    }
    const rules = byKind(objects, "PrometheusRule")[0]?.spec.groups[0].rules;
    expect(rules.length).toBeGreaterThanOrEqual(4);
    for (const rule of rules) expect(rule.expr).toMatch(/herald_|up\{|kube_/);
    const dashboard = byKind(objects, "ConfigMap").find((cm) => cm.data?.["herald.json"]);
    const parsed = JSON.parse(dashboard?.data["herald.json"]);
    expect(parsed.panels.length).toBeGreaterThan(0);
    expect(dashboard?.metadata.labels.grafana_dashboard).toBe("1");
    // Grafana keys panels by id.
    const ids = parsed.panels.map((p: { id: number }) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    type Target = { expr: string; exemplar?: boolean };
    const targets: Target[] = parsed.panels.flatMap((p: { targets?: Target[] }) => p.targets ?? []);
    // Latency panels show exemplars (trace links); dead letters by reason; the tracer's export outcomes.
    for (const histogram of [
      "herald_router_intake_lag_seconds",
      "herald_connector_live_lag_seconds",
      "herald_router_routing_duration_seconds",
    ]) {
      const panel = targets.filter((t) => t.expr.includes(`${histogram}_bucket`));
      expect(panel.length, histogram).toBeGreaterThan(0);
      for (const t of panel) expect(t.exemplar, t.expr).toBe(true);
    }
    expect(targets.some((t) => /sum by \(reason\).*dead_letters_total/.test(t.expr))).toBe(true);
    // Which replica routes how many of the intake's lanes, against how many there are.
    expect(targets.some((t) => /sum by \(pod\) \(herald_router_lanes_routed/.test(t.expr))).toBe(true);
    expect(targets.some((t) => /max\(herald_router_lanes\{/.test(t.expr))).toBe(true);
    const alert = (name: string) => rules.find((r: { alert: string }) => r.alert === name);
    expect(alert("HeraldDeadLetters")?.expr).toMatch(/^sum by \(reason\)/);
    expect(alert("HeraldDeadLetters")?.annotations.summary).toContain("$labels.reason");
    expect(alert("HeraldRoutingSlow")?.expr).toContain("herald_router_routing_duration_seconds_bucket");
    expect(alert("HeraldLanesUnrouted")?.expr).toMatch(
      /herald_router_lanes\{[\s\S]*herald_router_lanes_routed/,
    );
    expect(alert("HeraldReplayOverloaded")?.expr).toContain(
      "herald_persistence_replay_requests_dropped_total",
    );
  });
});

describe("NetworkPolicy", () => {
  it("lets only networkPolicy.ingressFrom reach the connector's public port", async () => {
    const objects = await render({
      set: {
        "networkPolicy.enabled": "true",
        "networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.kubernetes\\.io/metadata\\.name":
          "traefik",
        "networkPolicy.ingressFrom[0].podSelector.matchLabels.app\\.kubernetes\\.io/name": "traefik",
      },
    });
    const policy = componentObject(objects, "NetworkPolicy", "connector");
    const wsRules = policy?.spec.ingress.filter((r: { ports: { port: string }[] }) =>
      r.ports.some((p) => p.port === "ws"),
    );
    expect(wsRules).toHaveLength(1);
    expect(wsRules[0].from).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "traefik" } },
        podSelector: { matchLabels: { "app.kubernetes.io/name": "traefik" } },
      },
      // This release's helm test pod, and nothing else.
      {
        podSelector: {
          matchLabels: {
            "app.kubernetes.io/name": "herald",
            "app.kubernetes.io/instance": "rel",
            "app.kubernetes.io/component": "test",
          },
        },
      },
    ]);
    const testPod = byKind(objects, "Pod")[0];
    expect(testPod?.metadata.labels).toMatchObject(wsRules[0].from[1].podSelector.matchLabels);
    const open = await render({
      set: { "networkPolicy.enabled": "true", "networkPolicy.allowExternal": "true" },
    });
    const openRule = componentObject(open, "NetworkPolicy", "connector")?.spec.ingress.find(
      (r: { ports: { port: string }[] }) => r.ports.some((p) => p.port === "ws"),
    );
    expect(openRule.from).toBeUndefined();
  });

  it("admits the admin port from monitoring only and allows egress to NATS and DNS only", async () => {
    const objects = await render({ set: { "networkPolicy.enabled": "true" } });
    for (const component of components) {
      const policy = componentObject(objects, "NetworkPolicy", component);
      expect(policy?.spec.policyTypes).toEqual(["Ingress", "Egress"]);
      expect(policy?.spec.podSelector.matchLabels).toEqual(
        deployment(objects, component).spec.selector.matchLabels,
      );
      const admin = policy?.spec.ingress.find(
        (r: { ports: { port: string }[] }) => r.ports[0]?.port === "admin",
      );
      expect(admin.from[0].namespaceSelector.matchLabels["kubernetes.io/metadata.name"]).toBe("monitoring");
      if (component !== "connector") expect(policy?.spec.ingress).toHaveLength(1);
      const egressPorts = policy?.spec.egress.flatMap((r: { ports: { port: number }[] }) =>
        r.ports.map((p) => p.port),
      );
      expect(egressPorts).toEqual([4222, 53, 53]);
    }
  });
});

describe("helm test hook", () => {
  it("runs a round trip pod in the connector image against the connector Service", async () => {
    const objects = await render();
    const [pod] = byKind(objects, "Pod");
    expect(pod?.metadata.annotations["helm.sh/hook"]).toBe("test");
    const [container] = pod!.spec.containers;
    expect(container.image).toBe(podSpec(deployment(objects, "connector")).containers[0].image);
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env.HERALD_TEST_URL).toBe(`ws://${publicService(objects)?.metadata.name}:80/ws`);
    const script = byKind(objects, "ConfigMap").find((cm) => cm.data?.["roundtrip.mjs"]);
    expect(script?.data["roundtrip.mjs"]).toContain("sendUser");
    expect(byKind(await render({ set: { "tests.enabled": "false" } }), "Pod")).toEqual([]);
  });
});

describe("values schema", () => {
  it.each([
    ["an unknown root key", "bogus=1"],
    ["an unknown component key", "router.replicas=3"],
    ["an unknown nested key", "natsConnection.auth.password=x"],
    ["an unknown autoscaling key", "router.autoscaling.connections.enabled=true"],
    ["a bad enum", "natsConnection.auth.type=kerberos"],
    ["a bad prefix", "config.prefix=a.*"],
    ["no malloc arena", "connector.mallocArenaMax=0"],
    ["a JWT secret shorter than the connector accepts", "auth.createSecret=short"],
  ])("rejects %s", async (_label, assignment) => {
    const result = await helm(["template", "rel", "charts/herald", "--set", assignment]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/schema/);
  });
});

describe("chart README", () => {
  it("is up to date with values.yaml", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { repoRoot } = await import("./helm.js");
    const result = await promisify(execFile)(process.execPath, ["scripts/chart-readme.mjs", "--check"], {
      cwd: repoRoot,
    }).catch((err: { stderr?: string }) => ({ stdout: "", stderr: err.stderr ?? "failed" }));
    expect(result.stderr).toBe("");
  });
});
