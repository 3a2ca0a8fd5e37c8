// Issue 19 item 8 (the release workflow builds, signs and publishes what the chart points at) and the pieces
// of item 7 that concern what is published: Artifact Hub metadata and the NATS umbrella example.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { chartDir, componentObject, components, helm, type Loose, render, repoRoot } from "./helm.js";
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

  it("builds every service from the one Dockerfile for amd64 and arm64 with an SBOM and provenance", () => {
    const apps = readdirSync(join(repoRoot, "apps"))
      .filter((name) => existsSync(join(repoRoot, "apps", name, "package.json")))
      .sort();
    expect([...workflow.jobs.images.strategy.matrix.component].sort()).toEqual(apps);
    expect(apps).toEqual([...components].sort());
    expect(uses("images", "docker/setup-buildx-action")).toHaveLength(1);
    expect(uses("images", "docker/setup-qemu-action")).toHaveLength(1);
    const [build] = uses("images", "docker/build-push-action");
    expect(build?.with).toMatchObject({
      context: ".",
      file: "Dockerfile",
      push: true,
      sbom: true,
    });
    expect(String(build?.with?.["build-args"]).trim()).toBe(`SERVICE=${gh("matrix.component")}`);
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

// The umbrella example (examples/with-nats) needs the official NATS chart, which only `helm dependency build`
// can fetch: no copy of another project's chart is kept here. What can be checked offline is its pin.
describe("umbrella example with the official NATS chart 2.x", () => {
  it("depends on the NATS chart's current major and pins JetStream with three replicas", () => {
    const dir = join(chartDir, "examples", "with-nats");
    const chart = parse(readFileSync(join(dir, "Chart.yaml"), "utf8"));
    const nats = chart.dependencies.find((d: { name: string }) => d.name === "nats");
    expect(nats.version).toMatch(/^\^?2\./);
    const values = parse(readFileSync(join(dir, "values.yaml"), "utf8"));
    expect(values.nats.config.jetstream.enabled).toBe(true);
    expect(values.nats.config.cluster.replicas).toBe(3);
    expect(values.herald.config.streamReplicas).toBe(3);
  });
});
