import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// What a consumer gets from the registry: `pnpm pack` of the built package, unpacked into a project outside the
// workspace (no @herald/protocol, no workspace links), type-checked strictly and imported by Node.

const packageDir = fileURLToPath(new URL("..", import.meta.url));
const repoRoot = join(packageDir, "..", "..");
const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8" });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} exited ${result.status}:\n${result.stdout}${result.stderr}`,
    );
  }
  return result.stdout;
}

let work = "";
let installed = "";

beforeAll(() => {
  if (!existsSync(join(packageDir, "dist", "index.js")))
    throw new Error("packages/client is not built: pnpm build");
  work = mkdtempSync(join(tmpdir(), "herald-client-pack-"));
  run("pnpm", ["pack", "--pack-destination", work], packageDir);
  const tarball = readdirSync(work).find((name) => name.endsWith(".tgz"));
  if (!tarball) throw new Error(`pnpm pack wrote no tarball to ${work}`);
  const consumer = join(work, "consumer");
  installed = join(consumer, "node_modules", "@herald", "client");
  mkdirSync(installed, { recursive: true });
  run("tar", ["-xzf", join(work, tarball), "-C", installed, "--strip-components=1"], work);
}, 60_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the packed @herald/client", () => {
  it("ships the built ESM, its types, README and CHANGELOG, and nothing else", () => {
    const files = readdirSync(installed, { recursive: true, encoding: "utf8" }).sort();
    expect(files).toEqual(expect.arrayContaining(["README.md", "CHANGELOG.md", "package.json", "dist"]));
    expect(files).toEqual(expect.arrayContaining(["dist/index.js", "dist/index.d.ts", "dist/client.js"]));
    expect(files.filter((file) => /\.test\.|test-support|tsbuildinfo|\.map$|^src/.test(file))).toEqual([]);
  });

  it("has a publishable manifest without runtime dependencies", () => {
    const manifest = JSON.parse(readFileSync(join(installed, "package.json"), "utf8")) as Record<
      string,
      unknown
    >;
    expect(manifest).toMatchObject({ name: "@herald/client", type: "module", sideEffects: false });
    expect(manifest.private).not.toBe(true);
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
    expect(JSON.stringify(manifest)).not.toContain("workspace:");
  });

  it("imports nothing but its own files at runtime", () => {
    const dist = join(installed, "dist");
    for (const file of readdirSync(dist).filter((name) => name.endsWith(".js"))) {
      const text = readFileSync(join(dist, file), "utf8");
      const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^"';]*?from\s*["']([^"']+)["']/gm)].map(
        (match) => match[1],
      );
      expect(
        specifiers.filter((specifier) => !specifier?.startsWith("./")),
        file,
      ).toEqual([]);
    }
  });

  it("type-checks in a strict consumer project, library types included", () => {
    const consumer = join(work, "consumer");
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", type: "module" }));
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          lib: ["ES2022", "DOM"],
          types: [],
          noEmit: true,
          skipLibCheck: false,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
        },
        include: ["app.ts"],
      }),
    );
    writeFileSync(
      join(consumer, "app.ts"),
      [
        'import { BROADCAST, CloseCodes, HeraldClient, type HeraldClientError, type HeraldMessage } from "@herald/client";',
        'const client = new HeraldClient({ url: "wss://push.example.com/ws", token: async () => "jwt" });',
        "const seen: HeraldMessage[] = [];",
        "client.on('message', (message) => { seen.push(message); });",
        "client.on('error', (error: HeraldClientError) => console.warn(error.code));",
        "const off = client.subscribe(BROADCAST, (message) => console.log(message.offset, message.data));",
        "const code: number = CloseCodes.Banned;",
        "// @ts-expect-error: the options are checked",
        'new HeraldClient({ url: 42, token: "jwt" });',
        "export { off, code };",
      ].join("\n"),
    );
    run(process.execPath, [tsc, "-p", "tsconfig.json"], consumer);
  }, 120_000);

  it("loads in Node from the tarball alone", () => {
    const consumer = join(work, "consumer");
    const script = [
      'import { HeraldClient, InvalidOptionsError } from "@herald/client";',
      'const client = new HeraldClient({ url: "ws://127.0.0.1:9/ws", token: "jwt" });',
      "let refused = false;",
      'try { new HeraldClient({ url: "http://x", token: "jwt" }); } catch (e) { refused = e instanceof InvalidOptionsError; }',
      "console.log(JSON.stringify({ state: client.state, refused }));",
    ].join("\n");
    writeFileSync(join(consumer, "node-check.mjs"), script);
    const output = run(process.execPath, ["node-check.mjs"], consumer);
    expect(JSON.parse(output)).toEqual({ state: "disconnected", refused: true });
  });
});
