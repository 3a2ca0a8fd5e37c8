// Shared first steps of `npm test` and `npm run dev` on a fresh clone: the pinned Node, pnpm and nats-server
// (toolchain.mjs), dependencies, build. Only Node built-ins here: nothing is installed yet when this runs.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { findNatsServer } from "./nats-binary.mjs";
import { ensurePnpm, ensureToolchain, reexecOnPinnedNode, ToolchainError } from "./toolchain.mjs";

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

/** pnpm at `packageManager`'s version, from `.tools/` (see toolchain.mjs). */
export function pnpmCommand() {
  return { command: ensurePnpm(), args: [] };
}

function workspaceDirs() {
  const dirs = [root];
  for (const group of ["apps", "packages"]) {
    const base = join(root, group);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base)) dirs.push(join(base, name));
  }
  dirs.push(join(root, "e2e"), join(root, "bench"), join(root, "demo"));
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

/**
 * Every step before running anything: the pinned Node (this script runs again on it when it is not), pnpm and
 * nats-server, the install and the build. Child processes inherit PATH and NATS_SERVER_BIN pointing at them.
 * Returns the pnpm command, the nats-server path and the build result.
 */
export async function bootstrap() {
  try {
    await reexecOnPinnedNode();
    const { env, pin, natsServer } = ensureToolchain();
    Object.assign(process.env, env);
    say(
      `Node ${pin.node}, pnpm ${pin.pnpm}, nats-server ${pin.natsServer} (pinned in toolchain.json; in .tools/)`,
    );
    const pnpm = pnpmCommand();
    ensureInstalled(pnpm);
    const built = build(pnpm);
    return { pnpm, natsServer, built };
  } catch (error) {
    if (error instanceof ToolchainError) throw new BootstrapError(error.message);
    throw error;
  }
}
