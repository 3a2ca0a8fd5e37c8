import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { lintDockerfile, lintDockerignore } from "../../../scripts/check-images.mjs";
import { components, repoRoot } from "./helm.js";

const dockerfile = (name: string) => readFileSync(join(repoRoot, "apps", name, "Dockerfile"), "utf8");

describe("Dockerfiles", () => {
  it.each(components)("%s passes the lint rules", (name) => {
    expect(lintDockerfile(dockerfile(name), name)).toEqual([]);
  });

  it(".dockerignore keeps local installs, builds and git history out of the context", () => {
    expect(lintDockerignore(readFileSync(join(repoRoot, ".dockerignore"), "utf8"))).toEqual([]);
    expect(lintDockerignore("dist\n")).toHaveLength(3);
  });

  // Each rule must be able to fail: break the router's Dockerfile one way at a time.
  const router = () => dockerfile("router");
  it.each([
    [
      "an unpinned base",
      (t: string) => t.replace(/ARG NODE_VERSION=\S+/, "ARG NODE_VERSION=26"),
      /not pinned/,
    ],
    [
      "another Node than toolchain.json's",
      (t: string) => t.replace(/ARG NODE_VERSION=\S+/, "ARG NODE_VERSION=26.13.0"),
      /toolchain\.json/,
    ],
    [
      "pnpm through corepack",
      (t: string) => t.replace(/RUN npm install -g pnpm@\S+/, "RUN corepack enable"),
      /corepack/,
    ],
    [
      "another pnpm than packageManager's",
      (t: string) => t.replace("ARG PNPM_VERSION=12.4.2", "ARG PNPM_VERSION=9.15.0"),
      /packageManager's version/,
    ],
    ["a root user", (t: string) => t.replace("USER 10001:10001", "USER root"), /runs as root/],
    ["no user", (t: string) => t.replace("USER 10001:10001", ""), /no USER/],
    ["a named user", (t: string) => t.replace("USER 10001:10001", "USER node"), /not numeric/],
    [
      "a shell-form entry point",
      (t: string) => t.replace(/ENTRYPOINT .*/, "ENTRYPOINT node dist/main.js"),
      /exec form/,
    ],
    [
      "an entry point other than the contract's start command",
      (t: string) =>
        t.replace(
          /ENTRYPOINT .*/,
          'ENTRYPOINT ["node", "--import", "./dist/instrumentation.js", "./dist/main.js"]',
        ),
      /contract's start command/,
    ],
    ["ADD of a URL", (t: string) => `${t}\nADD https://example.com/x.tgz /x\n`, /ADD of a URL/],
    [
      "a HEALTHCHECK",
      (t: string) => `${t}\nHEALTHCHECK CMD curl -f http://localhost:9090/healthz\n`,
      /HEALTHCHECK/,
    ],
    ["a secret in ENV", (t: string) => `${t}\nENV HERALD_JWT_SECRET=abc\n`, /secret/],
    ["no pruned install", (t: string) => t.replace(/deploy --prod/, "deploy"), /pruned production install/],
    [
      "a single stage",
      (t: string) => t.slice(t.lastIndexOf("FROM ")).replace(/COPY --from=build/, "COPY"),
      /multi-stage/,
    ],
    [
      "app files owned by the service user",
      (t: string) => t.replace("COPY --from=build", "COPY --chown=10001 --from=build"),
      /read-only/,
    ],
    [
      "an install in the final stage",
      (t: string) => t.replace("WORKDIR /app", "WORKDIR /app\nRUN npm install -g pm2"),
      /installs packages/,
    ],
  ])("rejects %s", (_label, breakIt, problem) => {
    const problems = lintDockerfile(breakIt(router()), "router");
    expect(problems.join("\n")).toMatch(problem);
  });
});

describe("image contents", () => {
  it("runs every service from a pruned production install, read-only and unprivileged, and passes the helm test script", async () => {
    const result = await promisify(execFile)(
      process.execPath,
      ["scripts/check-images.mjs", "--require-all"],
      {
        cwd: repoRoot,
        maxBuffer: 8 * 1024 * 1024,
      },
    ).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? "",
    }));
    expect(result.stdout, result.stdout + result.stderr).toContain("check-images: ok");
    expect(result.stdout).toContain("round trip ok");
    for (const name of components) expect(result.stdout).toContain(`${name}: drained on SIGTERM, exit 0`);
  }, 240_000);
});
