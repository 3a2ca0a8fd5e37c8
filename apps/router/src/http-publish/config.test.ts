import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "@herald/service-kit";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../config.js";
import { sha256Hex } from "./config.js";

const HASH = sha256Hex("a-key");

describe("HTTP publish settings", () => {
  it("are off by default", () => {
    expect(loadConfig({}).HERALD_HTTP_PUBLISH_PORT).toBeUndefined();
  });

  it("take API key hashes, a key file (hashed when read) and a JWT secret", () => {
    const dir = mkdtempSync(join(tmpdir(), "herald-keys-"));
    writeFileSync(join(dir, "keys"), "# backends\nkey-one\n\n  key-two  \n");
    const config = loadConfig({
      HERALD_HTTP_PUBLISH_PORT: "8081",
      HERALD_HTTP_PUBLISH_API_KEY_HASHES: ` ${HASH.toUpperCase()} ,`,
      HERALD_HTTP_PUBLISH_API_KEYS_FILE: join(dir, "keys"),
    });
    expect(config.HERALD_HTTP_PUBLISH_API_KEY_HASHES).toEqual([HASH]);
    expect(config.HERALD_HTTP_PUBLISH_API_KEYS_FILE).toEqual([sha256Hex("key-one"), sha256Hex("key-two")]);
    expect(config.HERALD_HTTP_PUBLISH_RATE).toBe(100);
  });

  it("refuse an open port with no way to authenticate, or the admin port", () => {
    expect(() => loadConfig({ HERALD_HTTP_PUBLISH_PORT: "8081" })).toThrow(
      /needs HERALD_HTTP_PUBLISH_API_KEY_HASHES/,
    );
    expect(() =>
      loadConfig({ HERALD_HTTP_PUBLISH_PORT: "9090", HERALD_HTTP_PUBLISH_API_KEY_HASHES: HASH }),
    ).toThrow(/must differ from ADMIN_PORT/);
  });

  it("name the bad setting without echoing a secret", () => {
    const attempt = () =>
      loadConfig({
        HERALD_HTTP_PUBLISH_PORT: "8081",
        HERALD_HTTP_PUBLISH_API_KEY_HASHES: "plain-secret-key",
        HERALD_HTTP_PUBLISH_JWT_SECRET: "short-secret",
        HERALD_HTTP_PUBLISH_API_KEYS_FILE: "/nonexistent/keys",
      });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (err) {
      const { problems } = err as ConfigError;
      expect(problems.join("\n")).not.toMatch(/plain-secret-key|short-secret/);
      expect(problems).toHaveLength(3);
    }
  });
});
