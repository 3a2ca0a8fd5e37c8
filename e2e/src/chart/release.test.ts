// Issue 19 item 8 (the release workflow builds, signs and publishes what the chart points at) and the pieces
// of item 7 that concern what is published: Artifact Hub metadata and the NATS umbrella example.
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { findNatsServer } from "../fixtures/nats-server.js";
import {
  byKind,
  chartDir,
  componentObject,
  components,
  deploymentEnv,
  helm,
  type Loose,
  parseManifests,
  render,
  repoRoot,
} from "./helm.js";
import { validateWorkflowText } from "./workflow.js";

const run = promisify(execFile);
const workflowFile = join(repoRoot, ".github", "workflows", "release.yml");
const workflowText = readFileSync(workflowFile, "utf8");
const workflow = parse(workflowText);
const scratch = mkdtempSync(join(tmpdir(), "herald-release-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

type Step = {
  uses?: string;
  run?: string;
  with?: Record<string, Loose>;
  env?: Record<string, string>;
  id?: string;
};
const steps = (job: string): Step[] => workflow.jobs[job].steps;
const uses = (job: string, action: string) => steps(job).filter((s) => s.uses?.startsWith(`${action}@`));
/** A GitHub Actions expression as the workflow writes it: `${{ <expression> }}`. */
const gh = (expression: string) => ["$", "{{ ", expression, " }}"].join("");
const runs = (job: string) =>
  steps(job)
    .map((s) => s.run ?? "")
    .join("\n");

describe("release workflow", () => {
  it("is a valid GitHub Actions workflow (action-validator, SchemaStore's workflow schema)", async () => {
    expect(await validateWorkflowText(workflowText)).toEqual([]);
  });

  it("the validator rejects a broken workflow (so the check above can fail)", async () => {
    const broken = workflowText.replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04");
    expect((await validateWorkflowText(broken)).join("\n")).toMatch(/runs_on|runs-on|additional/i);
  });

  it("builds every apps/*/Dockerfile for amd64 and arm64 with an SBOM and provenance", () => {
    const apps = readdirSync(join(repoRoot, "apps"))
      .filter((name) => existsSync(join(repoRoot, "apps", name, "Dockerfile")))
      .sort();
    expect([...workflow.jobs.images.strategy.matrix.component].sort()).toEqual(apps);
    expect(apps).toEqual([...components].sort());
    expect(uses("images", "docker/setup-buildx-action")).toHaveLength(1);
    expect(uses("images", "docker/setup-qemu-action")).toHaveLength(1);
    const [build] = uses("images", "docker/build-push-action");
    expect(build?.with).toMatchObject({
      context: ".",
      file: `apps/${gh("matrix.component")}/Dockerfile`,
      push: true,
      sbom: true,
    });
    expect(String(build?.with?.platforms).split(",").sort()).toEqual(["linux/amd64", "linux/arm64"]);
    expect(String(build?.with?.provenance)).toMatch(/mode=max|true/);
  });

  it("signs each image by digest and attests an SBOM, keyless (OIDC token, no key)", () => {
    const job = workflow.jobs.images;
    expect(job.permissions).toMatchObject({ "id-token": "write", packages: "write" });
    expect(uses("images", "sigstore/cosign-installer")).toHaveLength(1);
    const sign = steps("images").find((s) => s.run?.includes("cosign sign"));
    expect(sign?.run).toMatch(/cosign sign --yes "\$\{IMAGE\}@\$\{DIGEST\}"/);
    expect(sign?.env?.DIGEST).toBe(gh("steps.build.outputs.digest"));
    expect(runs("images")).toMatch(/cosign attest --yes --type spdxjson/);
    expect(runs("images")).not.toMatch(/--key/);
  });

  it("pushes the images the chart's defaults point at", async () => {
    const objects = await render();
    const image = workflow.jobs.images.env.IMAGE as string;
    for (const component of components) {
      const pushed = image
        .replace(gh("needs.check.outputs.owner"), "herald")
        .replace(gh("matrix.component"), component);
      const version = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")).appVersion;
      const container = componentObject(objects, "Deployment", component)?.spec.template.spec.containers[0];
      expect(container.image).toBe(`${pushed}:${version}`);
    }
    // The release refuses a tag that differs from the chart's version and appVersion.
    expect(runs("check")).toMatch(/charts\/herald\/Chart\.yaml/);
    expect(runs("check")).toMatch(/appVersion/);
  });

  it("lints, packages, pushes the chart to an OCI registry and signs it", () => {
    const job = workflow.jobs.chart;
    expect(job.needs).toEqual(expect.arrayContaining(["images"]));
    expect(job.permissions).toMatchObject({ "id-token": "write", packages: "write" });
    const script = runs("chart");
    expect(script).toMatch(/helm lint --strict charts\/herald/);
    expect(script).toMatch(/helm package charts\/herald/);
    expect(script).toMatch(/helm push .*"\$CHART_REPO"/);
    expect(job.env.CHART_REPO).toMatch(/^oci:\/\//);
    expect(script).toMatch(/cosign sign --yes .*charts\/herald@/);
  });
});

describe("published metadata", () => {
  it("Artifact Hub lists the images the chart renders by default", async () => {
    const chart = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8"));
    const listed = parse(chart.annotations["artifacthub.io/images"]) as { name: string; image: string }[];
    const objects = await render();
    expect(listed.map((i) => i.image).sort()).toEqual(
      components
        .map((c) => componentObject(objects, "Deployment", c)?.spec.template.spec.containers[0].image)
        .sort(),
    );
  });

  it("the packaged chart leaves out the template, icon and umbrella example", async () => {
    const out = join(scratch, "package");
    const result = await helm(["package", chartDir, "--destination", out]);
    expect(result.code, result.stderr).toBe(0);
    const { stdout } = await run("tar", ["-tzf", join(out, "herald-0.1.0.tgz")]);
    expect(stdout).toContain("herald/values.schema.json");
    expect(stdout).toContain("herald/files/roundtrip.mjs");
    expect(stdout).not.toMatch(/examples\/|README\.md\.gotmpl|icon\.svg/);
  });
});

describe("umbrella example with the official NATS chart 2.x", () => {
  /** The example with its dependencies in charts/, as `helm dependency build` would leave it. */
  async function assemble(): Promise<string> {
    const dir = join(scratch, "with-nats");
    if (existsSync(dir)) return dir;
    cpSync(join(chartDir, "examples", "with-nats"), dir, { recursive: true });
    mkdirSync(join(dir, "charts"));
    const packaged = await helm(["package", chartDir, "--destination", join(dir, "charts")]);
    expect(packaged.code, packaged.stderr).toBe(0);
    cpSync(
      join(repoRoot, "e2e", "src", "chart", "fixtures", "nats-2.14.2.tgz"),
      join(dir, "charts", "nats-2.14.2.tgz"),
    );
    return dir;
  }

  it("passes helm lint --strict", async () => {
    const result = await helm(["lint", "--strict", await assemble()]);
    expect(result.code, result.stdout + result.stderr).toBe(0);
  });

  it("renders a 3-node JetStream cluster on the pinned nats-server, which Herald and its NetworkPolicy find", async () => {
    const dir = await assemble();
    const { stdout } = await run(
      (await import("./helm.js")).tools().helm,
      ["template", "herald", dir, "--namespace", "herald", "--set", "herald.networkPolicy.enabled=true"],
      { maxBuffer: 32 * 1024 * 1024 },
    );
    const objects = parseManifests(stdout);
    const [statefulSet] = byKind(objects, "StatefulSet");
    expect(statefulSet?.spec.replicas).toBe(3);
    const pin = JSON.parse(readFileSync(join(repoRoot, "toolchain.json"), "utf8")).natsServer;
    const nats = statefulSet?.spec.template.spec.containers.find((c: { name: string }) => c.name === "nats");
    expect(nats.image).toBe(`nats:${pin}-alpine`);
    expect(statefulSet?.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe("10Gi");
    const conf: string = byKind(objects, "ConfigMap").find((cm) => cm.data?.["nats.conf"])?.data["nats.conf"];
    expect(conf).toMatch(/jetstream/);
    // Herald points at the NATS client Service, whose pods its NetworkPolicy admits as egress.
    const url = deploymentEnv(objects, "router").NATS_URL;
    const host = new URL(url ?? "").hostname;
    const service = byKind(objects, "Service").find((s) => s.metadata.name === host);
    expect(service?.spec.ports.map((p: { port: number }) => p.port)).toContain(4222);
    const policy = componentObject(objects, "NetworkPolicy", "router");
    const natsPeer = policy?.spec.egress[0].to[0].podSelector.matchLabels;
    expect(
      Object.entries(natsPeer).every(([k, v]) => statefulSet?.spec.template.metadata.labels[k] === v),
    ).toBe(true);
    expect(deploymentEnv(objects, "router").HERALD_REPLICAS).toBe("3");
    // nats-server accepts the rendered config (include of the auth file left out: none here).
    const file = join(scratch, "nats.conf");
    writeFileSync(
      file,
      conf.replace(/\$SERVER_NAME/g, "herald-nats-0").replace(/\$POD_NAME/g, "herald-nats-0"),
    );
    const check = await run(findNatsServer() ?? "nats-server", ["-t", "-c", file], {
      env: { ...process.env, SERVER_NAME: "herald-nats-0", POD_NAME: "herald-nats-0" },
    }).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? "",
    }));
    expect(check.stdout + check.stderr).toContain("is valid");
  });
});
