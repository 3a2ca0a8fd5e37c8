import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { findNatsServer } from "@herald/testkit";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readToolchain, root } from "../../scripts/lib/toolchain.mjs";

// One Node and one nats-server everywhere: toolchain.json is the pin; everything else must agree with it.
const pin = readToolchain();
const read = (...path: string[]) => readFileSync(join(root, ...path), "utf8");

describe("the pinned runtimes (toolchain.json)", () => {
  it("the tests run on the pinned Node", () => {
    expect(process.versions.node).toBe(pin.node);
  });

  it("the tests start the pinned nats-server", () => {
    const bin = findNatsServer();
    expect(bin).toBeDefined();
    const version = execFileSync(bin ?? "nats-server", ["--version"], { encoding: "utf8" });
    expect(version.trim()).toBe(`nats-server: v${pin.natsServer}`);
  });

  it("every service image is built on the pinned Node", () => {
    // One Dockerfile builds every service (SERVICE build argument).
    expect(read("Dockerfile")).toMatch(new RegExp(`^ARG NODE_VERSION=${pin.node}$`, "m"));
    expect(
      readdirSync(join(root, "apps")).filter((app) => existsSync(join(root, "apps", app, "Dockerfile"))),
    ).toEqual([]);
  });

  it("package.json's engines ask for the pinned Node, and npm enforces engines", () => {
    expect(JSON.parse(read("package.json")).engines.node).toBe(`>=${pin.node}`);
    expect(read(".npmrc")).toMatch(/^engine-strict=true$/m);
  });

  it("the kustomize NATS and the chart's NATS example run the pinned nats-server", () => {
    expect(read("k8s", "nats", "statefulset.yaml")).toContain(`image: nats:${pin.natsServer}-alpine`);
    const example = parse(read("charts", "herald", "examples", "with-nats", "values.yaml"));
    expect(example.nats.container.image.tag).toBe(`${pin.natsServer}-alpine`);
  });

  it("the README names the pinned versions", () => {
    const readme = read("README.md");
    expect(readme).toContain(`Node ${pin.node}`);
    expect(readme).toContain(`nats-server ${pin.natsServer}`);
  });
});
