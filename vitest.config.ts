import { defineConfig } from "vitest/config";
import { findNatsServer } from "./scripts/lib/nats-binary.mjs";

// Two projects: fast unit tests beside the code, and end-to-end tests that start real nats-server and service
// processes. The JSON report is what scripts/test.mjs counts for its final "N passed, N failed" line.
export default defineConfig({
  test: {
    // Every launcher starts this one: the pinned server (`npm test` fetches it; see toolchain.json).
    env: { NATS_SERVER_BIN: findNatsServer() ?? "" },
    // Checks HERALD_TEST_NATS (process or container) and prints once which one this run uses.
    globalSetup: ["packages/testkit/src/global-setup.ts"],
    reporters: ["default", "json"],
    outputFile: { json: ".herald/test-report.json" },
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [
            "apps/*/src/**/*.test.ts",
            "packages/*/src/**/*.test.ts",
            "bench/src/**/*.test.ts",
            "demo/src/**/*.test.ts",
          ],
          // Property tests run hundreds of cases; on a busy 2-core machine 5 s is not enough for some.
          testTimeout: 30_000,
          // Unit tests run first, so they do not compete with e2e processes for this machine's 2 cores.
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["e2e/src/**/*.test.ts"],
          setupFiles: ["e2e/src/fixtures/setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 60_000,
          // One file at a time: each starts its own servers and services, and timing-sensitive checks must
          // not starve each other.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
