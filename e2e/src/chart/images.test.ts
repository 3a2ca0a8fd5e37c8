import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { DOCKERFILE, lintDockerfile, lintDockerignore, testCodeIn } from "../../../scripts/check-images.mjs";
import { components, repoRoot } from "./helm.js";

const dockerfile = () => readFileSync(join(repoRoot, DOCKERFILE), "utf8");

describe("Dockerfile", () => {
  it("is one file for every service, and passes the lint rules", () => {
    expect(lintDockerfile(dockerfile())).toEqual([]);
    for (const name of components)
      expect(existsSync(join(repoRoot, "apps", name, "Dockerfile")), name).toBe(false);
  });

  it(".dockerignore keeps local installs, builds and git history out of the context", () => {
    expect(lintDockerignore(readFileSync(join(repoRoot, ".dockerignore"), "utf8"))).toEqual([]);
    expect(lintDockerignore("dist\n")).toHaveLength(3);
  });

  // Each rule must be able to fail: break the Dockerfile one way at a time.
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
    ["no SERVICE argument", (t: string) => t.replace(/^ARG SERVICE$/m, ""), /no ARG SERVICE/],
    ["a default service", (t: string) => t.replace(/^ARG SERVICE$/m, "ARG SERVICE=router"), /has a default/],
    [
      "a stage using SERVICE without declaring it",
      (t: string) => t.replace(/(FROM node:\$\{NODE_VERSION\}-slim\n)ARG SERVICE\n/, "$1"),
      /uses SERVICE without ARG SERVICE/,
    ],
    [
      "no check of the SERVICE value",
      (t: string) => t.replace(/RUN case [\s\S]*?esac\n/, ""),
      /does not first check SERVICE/,
    ],
    ["no connector port", (t: string) => t.replace("EXPOSE 8080 9090", "EXPOSE 9090"), /EXPOSE lacks 8080/],
  ])("rejects %s", (_label, breakIt, problem) => {
    const broken = breakIt(dockerfile());
    expect(broken).not.toBe(dockerfile());
    expect(lintDockerfile(broken).join("\n")).toMatch(problem);
  });
});

describe("production code only", () => {
  it("finds tests and test fixtures in a pruned install, its own or a workspace package's", () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-pruned-"));
    const touch = (path: string) => {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), "");
    };
    try {
      touch("dist/main.js");
      touch("node_modules/.pnpm/ws@8.18.3/node_modules/ws/test/x.test.js");
      touch(
        "node_modules/.pnpm/@herald+service-kit@file+packages+service-kit/node_modules/@herald/service-kit/dist/index.js",
      );
      expect(testCodeIn(dir)).toEqual([]);
      touch("dist/test-support/nats-server.js");
      touch("dist/app.test.js");
      touch("dist/test-router.js");
      touch(
        "node_modules/.pnpm/@herald+service-kit@file+packages+service-kit/node_modules/@herald/service-kit/dist/guard.test.js",
      );
      expect(testCodeIn(dir).sort()).toEqual([
        "dist/app.test.js",
        "dist/test-router.js",
        "dist/test-support/",
        "node_modules/.pnpm/@herald+service-kit@file+packages+service-kit/node_modules/@herald/service-kit/dist/guard.test.js",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
