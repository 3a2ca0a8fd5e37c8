#!/usr/bin/env node
// `npm test`: from a fresh clone, installs what is missing, builds, runs every vitest project (unit and e2e
// against real nats-server processes) and ends with one line, `N passed, N failed`, taken from the runner's
// JSON report. Extra arguments go to vitest: `npm test -- --project unit`, `npm test -- e2e/src/smoke.test.ts`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { BootstrapError, bootstrap, root, say, warn } from "./lib/bootstrap.mjs";
import { ChromiumMissingError, ensureChromium } from "./lib/chromium.mjs";

const report = join(root, ".herald", "test-report.json");

/** Passed and failed counts from vitest's JSON report; a file that failed before any test ran counts as one. */
function countResults() {
  const data = JSON.parse(readFileSync(report, "utf8"));
  const passed = Number(data.numPassedTests ?? 0);
  let failed = Number(data.numFailedTests ?? 0);
  for (const file of data.testResults ?? []) {
    const failedInFile = (file.assertionResults ?? []).filter((test) => test.status === "failed").length;
    if (file.status === "failed" && failedInFile === 0) failed += 1;
  }
  return { passed, failed };
}

async function main() {
  let built = false;
  try {
    const result = await bootstrap();
    built = result.built;
    say(`nats-server: ${result.natsServer}`);
    // The browser tests fail with the same message when it is missing; the rest still run.
    try {
      say(`chromium: ${ensureChromium(say)}`);
    } catch (error) {
      if (!(error instanceof ChromiumMissingError)) throw error;
      warn(error.message);
    }
    // Tests still run: they show what works, and vitest compiles TypeScript itself. The run fails anyway.
    if (!built) warn("the build failed; running the tests anyway, and this run will fail");
  } catch (error) {
    if (error instanceof BootstrapError) {
      console.error(error.message);
      return 1;
    }
    throw error;
  }

  mkdirSync(join(root, ".herald"), { recursive: true });
  rmSync(report, { force: true });
  say(`vitest run ${process.argv.slice(2).join(" ")}`.trim());
  const vitest = spawnSync(
    process.execPath,
    [join(root, "node_modules", "vitest", "vitest.mjs"), "run", ...process.argv.slice(2)],
    { cwd: root, stdio: "inherit" },
  );

  if (!existsSync(report)) {
    console.error(`vitest wrote no report (${report}); it exited with ${vitest.status ?? vitest.signal}`);
    console.log("0 passed, 0 failed");
    return 1;
  }
  const { passed, failed } = countResults();
  if (vitest.status !== 0 && failed === 0)
    warn(`vitest exited with ${vitest.status ?? vitest.signal}: see above`);
  if (!built) warn("the build failed (see above)");
  console.log(`${passed} passed, ${failed} failed`);
  return built && vitest.status === 0 && failed === 0 ? 0 : 1;
}

process.exitCode = await main();
