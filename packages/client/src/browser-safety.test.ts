import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// The SDK ships to browsers: runtime files may use only web-platform APIs and must not pull the protocol
// package (and with it zod) into a bundle; it is a devDependency, for types only.
const runtimeFiles = readdirSync(new URL(".", import.meta.url))
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
  .map((name) => ({ name, text: readFileSync(new URL(name, import.meta.url), "utf8") }));

describe("runtime code", () => {
  it("is found", () => {
    expect(runtimeFiles.map((file) => file.name)).toContain("client.ts");
  });

  it.each(runtimeFiles)("$name imports @herald/protocol for types only", ({ text }) => {
    const valueImports = text.match(/^import (?!type )[^;]*from "@herald\/protocol";/gm) ?? [];
    expect(valueImports).toEqual([]);
  });

  it.each(runtimeFiles)("$name uses no Node-only APIs", ({ text }) => {
    expect(text).not.toMatch(/^(import|export) [^;]*from "(node:|ws"|fs"|net"|http"|events")/m);
    expect(text).not.toMatch(/\b(Buffer|process|require)\b[.(]/);
  });
});
