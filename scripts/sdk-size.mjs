#!/usr/bin/env node
// The browser SDK's size: bundles @herald/client's entry minified (scripts/lib/sdk-bundle.mjs) and prints its
// min and min+gzip bytes. `--check` fails when min+gzip is over the budget below (CI runs it: .ci/run).
// The budget leaves room for planned transports; raise it only deliberately, and update the SDK README.
import { bundleSdk } from "./lib/sdk-bundle.mjs";

// 6.5 KiB: the Server-Sent Events fallback (about 1.4 KiB) took the bundle past the first 6 KiB budget.
const BUDGET_GZIP_BYTES = 6.5 * 1024;

const check = process.argv.includes("--check");
const { min, gzip } = await bundleSdk();
const kb = (bytes) => `${(bytes / 1024).toFixed(2)} KiB`;
console.log(`@herald/client browser bundle: ${min} B min (${kb(min)}), ${gzip} B min+gzip (${kb(gzip)})`);
console.log(`budget: ${BUDGET_GZIP_BYTES} B min+gzip (${kb(BUDGET_GZIP_BYTES)})`);
if (check && gzip > BUDGET_GZIP_BYTES) {
  console.error(
    `over budget by ${gzip - BUDGET_GZIP_BYTES} B: shrink the SDK or raise the budget on purpose`,
  );
  process.exitCode = 1;
}
