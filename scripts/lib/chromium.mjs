// Debian's Chromium for the browser tests (the SDK's, and the demo page's), driven by playwright-core: never a
// downloaded browser. `npm test` and CI call ensureChromium(), which installs the `chromium` package as root
// where it is missing, or says exactly what is missing.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM_PATH = process.env.HERALD_CHROMIUM ?? "/usr/bin/chromium";

export class ChromiumMissingError extends Error {
  name = "ChromiumMissingError";
  code = "chromium_missing";
}

const missing = (why) =>
  new ChromiumMissingError(
    `Chromium is missing at ${CHROMIUM_PATH} (${why}): the SDK's browser tests and e2e/src/demo.test.ts need it. ` +
      "Install Debian's package as root: apt-get install -y chromium (or set HERALD_CHROMIUM to a Chromium binary).",
  );

/** Launch options for playwright-core's `chromium.launch`; throws a ChromiumMissingError without a browser. */
export function chromiumLaunchOptions() {
  if (!existsSync(CHROMIUM_PATH)) throw missing("not installed");
  return {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking"],
  };
}

/**
 * Installs Debian's `chromium` when it is missing and this runs as root with apt-get; returns the path, or
 * throws a ChromiumMissingError saying what to do.
 */
export function ensureChromium(log = console.log) {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (process.env.HERALD_CHROMIUM) throw missing("HERALD_CHROMIUM names no file");
  if (process.getuid?.() !== 0) throw missing("not root, so it cannot be installed here");
  if (spawnSync("sh", ["-c", "command -v apt-get"], { stdio: "ignore" }).status !== 0) {
    throw missing("no apt-get on this machine");
  }
  const apt = (...args) =>
    spawnSync("apt-get", args, {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    }).status === 0;
  log(`installing Debian's chromium (apt-get install -y chromium) for the browser tests`);
  // A fresh machine may have no package lists yet: update once and retry.
  if (!apt("install", "-y", "chromium") && !(apt("update") && apt("install", "-y", "chromium"))) {
    throw missing("apt-get install -y chromium failed (see above)");
  }
  if (!existsSync(CHROMIUM_PATH)) throw missing("the chromium package did not provide it");
  return CHROMIUM_PATH;
}
