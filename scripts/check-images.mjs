#!/usr/bin/env node
// What CI can prove about the images without a Docker engine:
//   1. lint the one Dockerfile (every service's image, chosen by the SERVICE build argument) with simple rules
//      (pinned Node LTS base, multi-stage, pruned install, non-root numeric USER, exec-form entry point, no ADD,
//      no HEALTHCHECK, no secrets in ENV), and that no other Dockerfile is left under apps/;
//   2. make the same pruned production install as the image (`pnpm --filter @herald/<name> deploy --prod`)
//      into an empty folder, check it holds production code only (no tests, test fixtures or test packages),
//      make it read-only, and start every service from there as an unprivileged user against a private
//      nats-server (@herald/testkit's, with the shipped NATS permissions, k8s/nats/auth.conf: each service as
//      its own identity) until /readyz answers 200; then run the chart's `helm test` script from
//      the connector's folder (as the test pod does) and stop everything with SIGTERM, expecting exit 0.
//
//   node scripts/check-images.mjs [--lint-only] [--require-all] [--keep]
// A service without a build (apps/<name>/dist/main.js) is skipped with a message, or fails with --require-all.
import { execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { readToolchain } from "./lib/toolchain.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const services = ["connector", "router", "presence", "persistence"];
/** The pnpm version of package.json's packageManager field (`pnpm@12.4.2` → `12.4.2`). */
const PNPM_VERSION = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))
  .packageManager.replace(/^pnpm@/, "")
  .split("+")[0];
const APP_UID = 10001;
/** The Node every image runs, pinned in toolchain.json like the tests' own. */
const NODE_VERSION = readToolchain().node;

/** The Dockerfile every service image is built from (`--build-arg SERVICE=<name>`). */
export const DOCKERFILE = "Dockerfile";
/** `${SERVICE}` as the Dockerfile writes it (joined, so it is not read as a template placeholder). */
const SERVICE_REF = ["$", "{SERVICE}"].join("");

/**
 * Lints the Dockerfile's text; returns a list of problems (empty when it passes).
 * @example lintDockerfile(readFileSync("Dockerfile", "utf8")) // []
 */
export function lintDockerfile(text) {
  const { args, stages, problems } = parseDockerfile(text);
  if (stages.length < 2)
    problems.push("not multi-stage: build in one stage, copy the pruned result into a clean one");
  problems.push(...basePinProblems(stages));
  const final = stages.at(-1);
  if (final) problems.push(...finalStageProblems(final));
  problems.push(...serviceArgProblems(args, stages));
  const all = stages.flatMap((s) => s.instructions);
  problems.push(...installProblems(all, args), ...instructionProblems(all));
  return problems;
}

/**
 * The Dockerfile's instructions by stage, continuation lines joined and comments dropped, and the ARGs declared
 * before the first FROM (with which each FROM's image is expanded).
 */
function parseDockerfile(text) {
  const problems = [];
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"));
  const args = {};
  const stages = []; // { base, instructions: [{ op, rest }] }
  for (const line of lines) {
    const match = /^(\w+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const op = match[1].toUpperCase();
    const rest = match[2];
    if (op === "ARG" && stages.length === 0) {
      const [key, value] = rest.split("=");
      args[key.trim()] = value?.trim().replace(/^"|"$/g, "");
    } else if (op === "FROM") {
      stages.push({ base: expandArgs(rest.split(/\s+/)[0], args), instructions: [] });
    } else if (stages.length === 0) problems.push(`${op} before the first FROM`);
    else stages.at(-1).instructions.push({ op, rest });
  }
  return { args, stages, problems };
}

/** `$NAME` and `${NAME}` replaced by the ARGs declared before the first FROM. */
function expandArgs(text, args) {
  return text.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => args[a ?? b] ?? "");
}

/** Every base image that is not an earlier stage is pinned to a patch version or a digest, never `latest`. */
function basePinProblems(stages) {
  const problems = [];
  const previousNames = new Set();
  for (const { base } of stages) {
    const [, alias] = /\bAS\s+(\S+)/i.exec(base) ?? [];
    if (alias) previousNames.add(alias);
    if (previousNames.has(base)) continue;
    if (!/@sha256:[a-f0-9]{64}$/.test(base) && !/:\d+\.\d+\.\d+(-[\w.]+)?$/.test(base)) {
      problems.push(`base image '${base}' is not pinned to a patch version or a digest`);
    }
    if (/:latest\b/.test(base)) problems.push(`base image '${base}' uses latest`);
  }
  return problems;
}

/** The image that ships: the pinned Node, slim, a numeric non-root user, read-only app, the start command. */
function finalStageProblems(final) {
  const problems = [];
  const version = /^node:(\d+\.\d+\.\d+)/.exec(final.base)?.[1];
  if (version !== NODE_VERSION) {
    problems.push(`final base '${final.base}' is not node:${NODE_VERSION} (toolchain.json)`);
  }
  if (!/-slim\b|-alpine\b|distroless/.test(final.base))
    problems.push(`final base '${final.base}' is not a slim image`);
  problems.push(...userProblems(final), ...entryProblems(final));
  for (const i of final.instructions) {
    if (i.op === "RUN" && /\b(npm|pnpm|yarn)\s+(install|add|ci)\b/.test(i.rest)) {
      problems.push(
        "the final stage installs packages: copy the pruned install from the build stage instead",
      );
    }
    if (i.op === "COPY" && /--chown=(?!root|0\b)/.test(i.rest)) {
      problems.push(
        "the final stage copies files owned by the service user: keep the app read-only (root-owned)",
      );
    }
  }
  if (!final.instructions.some((i) => i.op === "COPY" && /--from=/.test(i.rest))) {
    problems.push("the final stage does not copy the build stage's output");
  }
  const exposed = final.instructions.filter((i) => i.op === "EXPOSE").flatMap((i) => i.rest.split(/\s+/));
  for (const port of ["8080", "9090"]) if (!exposed.includes(port)) problems.push(`EXPOSE lacks ${port}`);
  return problems;
}

/** The final stage's USER: numeric (so Kubernetes can verify runAsNonRoot), not root, the chart's runAsUser. */
function userProblems(final) {
  const user = final.instructions
    .filter((i) => i.op === "USER")
    .at(-1)
    ?.rest.split(":")[0];
  if (!user) return ["final stage has no USER: the service would run as root"];
  if (user === "root" || user === "0") return ["final stage runs as root"];
  if (!/^\d+$/.test(user)) return [`USER '${user}' is not numeric: Kubernetes cannot verify runAsNonRoot`];
  if (Number(user) !== APP_UID) return [`USER ${user} differs from the chart's runAsUser ${APP_UID}`];
  return [];
}

/** The final stage's ENTRYPOINT or CMD: exec form (so node gets SIGTERM), the contract's start command. */
function entryProblems(final) {
  const entry = final.instructions.filter((i) => i.op === "ENTRYPOINT" || i.op === "CMD").at(-1);
  if (!entry) return ["final stage has no ENTRYPOINT or CMD"];
  if (!entry.rest.startsWith("[")) return [`${entry.op} is not in exec form: node would not get SIGTERM`];
  // main.js starts OpenTelemetry itself (when OTEL_* asks for it) before loading the service: no --import.
  const expected = ["node", "./dist/main.js"];
  if (JSON.stringify(JSON.parse(entry.rest)) === JSON.stringify(expected)) return [];
  return [
    `${entry.op} should be ${JSON.stringify(expected)} (the contract's start command), got ${entry.rest}`,
  ];
}

/** A pruned production install of the service, with pnpm installed at the workspace's pinned version. */
function installProblems(all, args) {
  const problems = [];
  const deploys = (i) =>
    i.op === "RUN" && /deploy\s+--prod\b/.test(i.rest) && i.rest.includes(`@herald/${SERVICE_REF}`);
  if (!all.some(deploys)) {
    problems.push(`no pruned production install (pnpm --filter @herald/${SERVICE_REF} deploy --prod)`);
  }
  // Node 25 and later ship without corepack; pnpm must come pinned to the workspace's packageManager version.
  const pnpmInstalls = all
    .filter((i) => i.op === "RUN")
    .map((i) => /\bnpm\s+(?:install|i)\s+(?:-g|--global)\s+pnpm@(\S+)/.exec(expandArgs(i.rest, args))?.[1])
    .filter((version) => version !== undefined);
  if (all.some((i) => i.op === "RUN" && /\bcorepack\b/.test(i.rest))) {
    problems.push(
      "uses corepack, which node images ship without since Node 25: npm install -g pnpm@<version>",
    );
  }
  if (!pnpmInstalls.includes(PNPM_VERSION)) {
    problems.push(
      `pnpm is not installed at packageManager's version ${PNPM_VERSION} (found: ${pnpmInstalls.join(", ") || "none"})`,
    );
  }
  return problems;
}

/** Instructions refused in any stage: ADD, HEALTHCHECK, a secret in ENV, a download piped into a shell. */
function instructionProblems(all) {
  const problems = [];
  for (const i of all) {
    if (i.op === "ADD")
      problems.push(`ADD ${/https?:\/\//.test(i.rest) ? "of a URL " : ""}is not allowed: use COPY`);
    if (i.op === "HEALTHCHECK")
      problems.push("HEALTHCHECK is not used: Kubernetes probes /healthz and /readyz");
    if (i.op === "ENV" && /\b\w*(SECRET|PASSWORD|TOKEN)\w*\s*=/i.test(i.rest)) {
      problems.push(`ENV sets a secret (${i.rest}); pass secrets at run time`);
    }
    if (i.op === "RUN" && /\bcurl\b.*\|\s*(ba)?sh\b/.test(i.rest))
      problems.push("RUN pipes a download into a shell");
  }
  return problems;
}

/**
 * The SERVICE build argument: declared before the first FROM without a default (an image must say which service
 * it is), checked against the four services, and declared again in every stage that uses it (Docker scopes ARGs
 * to a stage).
 */
function serviceArgProblems(args, stages) {
  const problems = [];
  if (!("SERVICE" in args))
    problems.push("no ARG SERVICE before the first FROM: one Dockerfile builds every service");
  else if (args.SERVICE)
    problems.push(`ARG SERVICE has a default (${args.SERVICE}): each build must name its service`);
  const uses = (i) => /\$\{?SERVICE\b/.test(i.rest);
  for (const [n, stage] of stages.entries()) {
    const declared = stage.instructions.some((i) => i.op === "ARG" && /^SERVICE\b/.test(i.rest));
    if (stage.instructions.some((i) => i.op !== "ARG" && uses(i)) && !declared)
      problems.push(`stage ${n + 1} uses SERVICE without ARG SERVICE (it would be empty there)`);
  }
  const check = stages[0]?.instructions.find((i) => i.op === "RUN" && uses(i));
  if (!check || !services.every((name) => check.rest.includes(name)))
    problems.push(
      "the build stage does not first check SERVICE against connector|router|presence|persistence",
    );
  return problems;
}

/** Problems of .dockerignore: the build context must not carry local installs, builds or git history. */
export function lintDockerignore(text) {
  const entries = new Set(
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#")),
  );
  return ["**/node_modules", "**/dist", ".git"]
    .filter((e) => !entries.has(e))
    .map((e) => `.dockerignore lacks ${e}`);
}

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** Spawns a process, collecting its output; `exited` resolves with the exit code. */
function start(command, argv, options) {
  const child = spawn(command, argv, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  const proc = { child, output: "", exited: undefined };
  child.stdout.on("data", (chunk) => (proc.output += chunk));
  child.stderr.on("data", (chunk) => (proc.output += chunk));
  proc.exited = new Promise((done) => child.once("exit", (code, signal) => done(code ?? signal)));
  return proc;
}

const dropPrivileges = process.getuid?.() === 0 && existsSync("/usr/bin/setpriv");

/** Runs node with `args` as the image's unprivileged uid when we are root (root ignores read-only modes). */
function startNode(args, options) {
  if (!dropPrivileges) return start(process.execPath, args, options);
  const setpriv = ["--reuid", String(APP_UID), "--regid", String(APP_UID), "--clear-groups", "--"];
  return start("/usr/bin/setpriv", [...setpriv, process.execPath, ...args], options);
}

/** Test-only packages that a production install must not hold. */
const DEV_PACKAGES =
  /^(typescript|vitest|@biomejs|fast-check|playwright|testcontainers|@herald\+(testkit|e2e|bench)@)/;

/**
 * Files of Herald's own code in a pruned install (`dir`, and the workspace packages under node_modules/.pnpm)
 * that are tests or test fixtures rather than production code; returns their paths relative to `dir`.
 */
export function testCodeIn(dir) {
  const found = [];
  const walk = (relative) => {
    for (const entry of readdirSync(join(dir, relative), { withFileTypes: true })) {
      const path = relative ? `${relative}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name === "node_modules" && relative === "") {
          const pnpm = join(dir, "node_modules", ".pnpm");
          const herald = existsSync(pnpm)
            ? readdirSync(pnpm).filter((name) => name.startsWith("@herald+"))
            : [];
          for (const name of herald) walk(`node_modules/.pnpm/${name}`);
          continue;
        }
        if (entry.name === "node_modules" && !relative.startsWith("node_modules/.pnpm/@herald+")) continue;
        if (/^(test|test-support|fixtures|__tests__)$/.test(entry.name)) found.push(`${path}/`);
        else walk(path);
      } else if (
        /\.(test|spec)\.[cm]?[jt]s(\.map)?$|\.(test|spec)\.d\.[cm]?ts(\.map)?$|^test-[\w-]+\.[cm]?js$/.test(
          entry.name,
        )
      ) {
        found.push(path);
      }
    }
  };
  walk("");
  return found;
}

function deploy(name, target) {
  execFileSync("pnpm", ["--filter", `@herald/${name}`, "deploy", "--prod", target], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CI: "true" },
  });
  const pnpmDir = join(target, "node_modules", ".pnpm");
  const installed = existsSync(pnpmDir) ? readdirSync(pnpmDir) : [];
  const dev = installed.filter((entry) => DEV_PACKAGES.test(entry));
  if (dev.length > 0)
    throw new Error(`${name}: development packages in the pruned install: ${dev.join(", ")}`);
  const tests = testCodeIn(target);
  if (tests.length > 0)
    throw new Error(
      `${name}: tests or test fixtures in the pruned install: ${tests.slice(0, 10).join(", ")}`,
    );
  if (!existsSync(join(target, "dist", "main.js")))
    throw new Error(`${name}: the pruned install has no dist/main.js`);
  const size = execFileSync("du", ["-sh", target], { encoding: "utf8" }).split("\t")[0];
  return size;
}

function makeReadOnly(dir) {
  execFileSync("chmod", ["-R", "a-w,a+rX", dir]);
}

async function runServices(built, workDir, log) {
  const testkit = join(root, "packages", "testkit", "dist", "index.js");
  if (!existsSync(testkit)) throw new Error("packages/testkit/dist is missing: run `pnpm build` first");
  const { natsServiceEnv, startNatsServer } = await import(pathToFileURL(testkit).href);
  // The shipped identities and permissions (k8s/nats/auth.conf) with random passwords: each service as its own.
  const nats = await startNatsServer();
  const running = [];
  try {
    const secret = "check-images-secret-0123456789abcdef";
    const wsPort = await freePort();
    // Persistence first: it creates the streams the other services wait for.
    const order = ["persistence", "router", "presence", "connector"].filter((name) => built.includes(name));
    for (const name of order) {
      const env = {
        PATH: process.env.PATH,
        HOME: "/tmp",
        NODE_ENV: "production",
        NATS_URL: nats.url,
        ...natsServiceEnv(nats, name),
        ADMIN_PORT: "0",
        HERALD_REPLICAS: "1",
        SHUTDOWN_DELAY: "0s",
        SHUTDOWN_TIMEOUT: "10s",
        LOG_LEVEL: "info",
        ...(name === "connector" ? { PORT: String(wsPort), HERALD_JWT_SECRET: secret } : {}),
      };
      const proc = startNode(["./dist/main.js"], { cwd: join(workDir, name), env });
      running.push({ name, proc });
      await waitServiceReady(name, proc, log);
    }
    if (services.every((name) => built.includes(name))) {
      const env = { NATS_URL: nats.url, ...natsServiceEnv(nats, "publisher") };
      await runHelmTestScript(workDir, env, secret, wsPort, log);
    } else {
      log("  helm test script: skipped (needs all four services)");
    }
    await drainInReverse(running, log);
  } finally {
    for (const { proc } of running) if (proc.child.exitCode === null) proc.child.kill("SIGKILL");
    await nats.kill();
    await nats.dispose();
  }
}

/** Waits for a started service's admin port (from its log), then `/readyz`, and checks its `/metrics`. */
async function waitServiceReady(name, proc, log) {
  const adminPort = await waitFor(
    `${name} admin port`,
    () => {
      if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.output}`);
      for (const line of proc.output.split("\n")) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line);
        if (entry.msg === "admin listening") return entry.port;
      }
      return undefined;
    },
    20_000,
  );
  await waitFor(
    `${name} /readyz`,
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${name} exited: ${proc.output}`);
      return (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200;
    },
    30_000,
  );
  const metrics = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  if (!metrics.includes("herald_")) throw new Error(`${name}: /metrics has no herald_ metrics`);
  const uid = dropPrivileges ? APP_UID : process.getuid?.();
  log(`  ${name}: ready (admin port ${adminPort}, read-only folder, uid ${uid})`);
}

/**
 * The chart's `helm test` script, mounted at /app/helm-test as the chart does, run in the connector's pruned
 * folder with a backend's identity (`natsEnv`), as the chart's test pod has.
 */
async function runHelmTestScript(workDir, natsEnv, secret, wsPort, log) {
  const testDir = join(workDir, "connector", "helm-test");
  chmodSync(join(workDir, "connector"), 0o755);
  mkdirSync(testDir);
  cpSync(join(root, "charts", "herald", "files", "roundtrip.mjs"), join(testDir, "roundtrip.mjs"));
  makeReadOnly(join(workDir, "connector"));
  const test = startNode(["helm-test/roundtrip.mjs"], {
    cwd: join(workDir, "connector"),
    env: {
      PATH: process.env.PATH,
      HOME: "/tmp",
      ...natsEnv,
      HERALD_JWT_SECRET: secret,
      HERALD_TEST_URL: `ws://127.0.0.1:${wsPort}/ws`,
      HERALD_TEST_TIMEOUT_SECONDS: "30",
    },
  });
  const code = await test.exited;
  if (code !== 0) throw new Error(`helm test script failed (${code}):\n${test.output}`);
  log(`  helm test script: ${test.output.trim().split("\n").at(-1)}`);
}

/** Stops the services in reverse order, each with SIGTERM, expecting a clean drain (exit 0 within 15 s). */
async function drainInReverse(running, log) {
  for (const { name, proc } of [...running].reverse()) {
    proc.child.kill("SIGTERM");
    const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), 15_000));
    const code = await Promise.race([proc.exited, timeout]);
    if (code !== 0)
      throw new Error(`${name} did not drain cleanly on SIGTERM (${code}):\n${proc.output.slice(-2000)}`);
    log(`  ${name}: drained on SIGTERM, exit 0`);
  }
}

async function main() {
  const argv = process.argv.slice(2);
  const log = (line) => console.log(line);
  let failed = false;

  log("Dockerfiles:");
  const ignoreProblems = lintDockerignore(readFileSync(join(root, ".dockerignore"), "utf8"));
  for (const problem of ignoreProblems) log(`  ✗ ${problem}`);
  failed ||= ignoreProblems.length > 0;
  const file = join(root, DOCKERFILE);
  const problems = existsSync(file) ? lintDockerfile(readFileSync(file, "utf8")) : ["missing"];
  // One recipe for every service: a per-service copy would drift from it.
  const strays = services.filter((name) => existsSync(join(root, "apps", name, "Dockerfile")));
  for (const name of strays)
    problems.push(`apps/${name}/Dockerfile: build from ${DOCKERFILE} with SERVICE=${name}`);
  log(problems.length === 0 ? `  ✓ ${DOCKERFILE} (SERVICE=${services.join("|")})` : `  ✗ ${DOCKERFILE}`);
  for (const problem of problems) log(`      ${problem}`);
  failed ||= problems.length > 0;
  if (argv.includes("--lint-only")) process.exit(failed ? 1 : 0);

  log("Pruned production installs:");
  const workDir = mkdtempSync(join(tmpdir(), "herald-images-"));
  // Readable by the unprivileged uid the services run as.
  chmodSync(workDir, 0o755);
  const built = [];
  try {
    for (const name of services) {
      if (!existsSync(join(root, "apps", name, "dist", "main.js"))) {
        const message = `  - ${name}: skipped, apps/${name}/dist/main.js is missing (run \`pnpm build\` first)`;
        log(message);
        failed ||= argv.includes("--require-all");
        continue;
      }
      const size = deploy(name, join(workDir, name));
      makeReadOnly(join(workDir, name));
      built.push(name);
      log(`  ✓ ${name}: ${size} (pnpm deploy --prod)`);
    }
    if (built.length > 0) {
      log("Starting from the pruned folders:");
      await runServices(built, workDir, log);
    }
  } catch (err) {
    log(`  ✗ ${err instanceof Error ? err.message : String(err)}`);
    failed = true;
  } finally {
    if (!argv.includes("--keep")) {
      execFileSync("chmod", ["-R", "u+w", workDir]);
      rmSync(workDir, { recursive: true, force: true });
    } else log(`kept ${workDir}`);
  }
  log(failed ? "check-images: FAILED" : "check-images: ok");
  process.exit(failed ? 1 : 0);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main();
}
