// Shared first steps of `npm test` and `npm run dev` on a fresh clone: Node version, pnpm, dependencies,
// nats-server, build. Only Node built-ins here: nothing is installed yet when this runs.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findNatsServer } from "./nats-binary.mjs";

export { findNatsServer };

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code, text) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);
export const say = (text) => console.log(`${paint("36", "›")} ${text}`);
export const warn = (text) => console.log(`${paint("33", "!")} ${text}`);

/** Raised for a step that failed; its message is what the user should read. */
export class BootstrapError extends Error {
  name = "BootstrapError";
  code = "bootstrap";
}

/** Runs a command with inherited output; throws a BootstrapError naming it when it fails. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw new BootstrapError(`${command} ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new BootstrapError(`${command} ${args.join(" ")} failed (${result.status ?? result.signal})`);
  }
}

export function checkNode() {
  const major = Number(process.versions.node.split(".")[0]);
  if (major < 20)
    throw new BootstrapError(`Node ${process.versions.node} is too old: Herald needs Node >= 20`);
}

/** The global pnpm when it is the version package.json pins, otherwise that version through npx. */
export function pnpmCommand() {
  const pinned = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager ?? "pnpm@12.4.2";
  const version = pinned.replace(/^pnpm@/, "").split("+")[0];
  const global = spawnSync("pnpm", ["--version"], { cwd: root, encoding: "utf8" });
  if (global.status === 0 && global.stdout.trim() === version) return { command: "pnpm", args: [] };
  warn(
    `pnpm ${version} not on PATH (found ${global.status === 0 ? global.stdout.trim() : "none"}); using npx`,
  );
  return { command: "npx", args: ["--yes", `pnpm@${version}`] };
}

function workspaceDirs() {
  const dirs = [root];
  for (const group of ["apps", "packages"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base)) dirs.push(join(base, name));
  }
  dirs.push(join(root, "e2e"), join(root, "bench"));
  return dirs.filter((dir) => existsSync(join(dir, "package.json")));
}

const stampFile = () => join(root, "node_modules", ".herald-lock-hash");
const lockHash = () =>
  createHash("sha256")
    .update(readFileSync(join(root, "pnpm-lock.yaml")))
    .update(
      existsSync(join(root, "pnpm-workspace.yaml")) ? readFileSync(join(root, "pnpm-workspace.yaml")) : "",
    )
    .digest("hex");

/**
 * Why `pnpm install` is needed, or undefined. The lockfile is what matters (a manifest whose dependencies no
 * longer match it fails `--frozen-lockfile` anyway): its hash is recorded after each install here. Without a
 * record (an install made by hand), pnpm's own state file says when it last validated the install.
 */
export function installNeeded() {
  const state = join(root, "node_modules", ".pnpm-workspace-state-v1.json");
  if (!existsSync(join(root, "node_modules", ".modules.yaml")) || !existsSync(state))
    return "no node_modules";
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(state, "utf8"));
  } catch {
    return "unreadable pnpm state";
  }
  const known = new Set(Object.keys(parsed.projects ?? {}).map((dir) => resolve(dir)));
  for (const dir of workspaceDirs()) {
    if (!known.has(dir)) return `new workspace package ${dir}`;
  }
  if (existsSync(stampFile())) {
    return readFileSync(stampFile(), "utf8").trim() === lockHash() ? undefined : "pnpm-lock.yaml changed";
  }
  const validated = Number(parsed.lastValidatedTimestamp ?? 0);
  for (const file of ["pnpm-lock.yaml", "pnpm-workspace.yaml"]) {
    const path = join(root, file);
    if (existsSync(path) && Math.floor(statSync(path).mtimeMs) > validated) return `${file} changed`;
  }
  writeFileSync(stampFile(), lockHash());
  return undefined;
}

export function ensureInstalled(pnpm) {
  const reason = installNeeded();
  if (!reason) return;
  say(`installing dependencies (${reason})`);
  run(pnpm.command, [...pnpm.args, "install", "--frozen-lockfile"]);
  writeFileSync(stampFile(), lockHash());
}

function hasCommand(name) {
  return spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;
}

/** Finds nats-server; installs it with apt-get when allowed (root, and CI=true or HERALD_AUTO_INSTALL=1). */
export function ensureNatsServer() {
  const found = findNatsServer();
  if (found) return found;
  const allowed = process.env.CI === "true" || process.env.HERALD_AUTO_INSTALL === "1";
  const root = process.getuid?.() === 0;
  if (allowed && root && hasCommand("apt-get")) {
    say("nats-server missing: installing it with apt-get");
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    run("apt-get", ["update"], { env });
    run("apt-get", ["install", "-y", "nats-server"], { env });
    const installed = findNatsServer();
    if (installed) return installed;
  }
  throw new BootstrapError(
    [
      "nats-server is not installed (looked at /usr/sbin/nats-server and PATH). Install it with:",
      "    apt-get install -y nats-server        (Debian/Ubuntu, as root; run apt-get update first)",
      "or set NATS_SERVER_BIN to its path. Running as root with HERALD_AUTO_INSTALL=1 (or CI=true) installs it.",
    ].join("\n"),
  );
}

/**
 * `pnpm build`; returns false when it reported errors. `tsc -b` still writes the output of what compiled, so
 * a type error in one test file need not stop everything else: callers decide.
 */
export function build(pnpm) {
  say("building (tsc -b tsconfig.build.json)");
  try {
    run(pnpm.command, [...pnpm.args, "run", "build"]);
    return true;
  } catch (error) {
    if (!(error instanceof BootstrapError)) throw error;
    warn(`${error.message}: type errors above`);
    return false;
  }
}

/** Every step before running anything; returns the pnpm command, the nats-server path and the build result. */
export function bootstrap() {
  checkNode();
  const pnpm = pnpmCommand();
  ensureInstalled(pnpm);
  const natsServer = ensureNatsServer();
  const built = build(pnpm);
  return { pnpm, natsServer, built };
}
