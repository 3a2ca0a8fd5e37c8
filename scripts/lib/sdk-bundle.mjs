// The SDK (`@herald/client`) as one ES module for browsers, bundled by rolldown from its TypeScript source.
// Shared by the size check (scripts/sdk-size.mjs), the SDK's browser tests and the demo page's server.
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const sdkDir = join(root, "packages", "client");

/** rolldown is a devDependency of the SDK's package, so resolve it from there. */
async function loadRolldown() {
  const require = createRequire(join(sdkDir, "package.json"));
  const path = require.resolve("rolldown");
  return import(pathToFileURL(path).href);
}

/**
 * Bundles `packages/client/src/index.ts` for the browser: `{ code, min, gzip }` (the sizes in bytes).
 * @param {{ minify?: boolean }} [options] minified by default
 */
export async function bundleSdk(options = {}) {
  const { rolldown } = await loadRolldown();
  const bundle = await rolldown({
    input: join(sdkDir, "src", "index.ts"),
    platform: "browser",
    logLevel: "warn",
    // The SDK has no runtime dependencies: anything it imports at runtime must be in the bundle, or fail here.
    onLog: (level, log) => {
      if (level === "warn") throw new Error(`bundling the SDK: ${log.message}`);
    },
  });
  try {
    const { output } = await bundle.generate({ format: "esm", minify: options.minify ?? true });
    const chunk = output.find((item) => item.type === "chunk");
    if (!chunk) throw new Error("bundling the SDK produced no chunk");
    const code = chunk.code;
    return { code, min: Buffer.byteLength(code), gzip: gzipSync(code, { level: 9 }).length };
  } finally {
    await bundle.close();
  }
}
