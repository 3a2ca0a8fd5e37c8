import { describe, expect, it } from "vitest";
import { chartDir, ciValuesFiles, helm, render } from "./helm.js";
import { validateObject } from "./validate.js";

describe("chart lint and scenarios", () => {
  it("passes helm lint --strict with its defaults", async () => {
    const result = await helm(["lint", "--strict", chartDir]);
    expect(result.stderr + result.stdout).toContain("0 chart(s) failed");
    expect(result.code).toBe(0);
  });

  it("has scenarios to render", () => {
    expect(ciValuesFiles().length).toBeGreaterThanOrEqual(4);
  });

  for (const file of ciValuesFiles()) {
    describe(file, () => {
      it("passes helm lint --strict", async () => {
        const result = await helm(["lint", "--strict", chartDir, "--values", `${chartDir}/ci/${file}`]);
        expect(result.code, result.stdout + result.stderr).toBe(0);
      });

      it("renders objects that are valid against the Kubernetes API schemas", async () => {
        const objects = await render({ valuesFiles: [file] });
        expect(objects.filter((o) => o.kind === "Deployment").length).toBeGreaterThan(0);
        for (const obj of objects) await validateObject(obj);
      });
    });
  }

  it("the validator rejects an invalid object (so the check above can fail)", async () => {
    const [deployment] = (await render()).filter((o) => o.kind === "Deployment");
    deployment!.spec.template.spec.containers[0].ports[0].containerPort = "not-a-number";
    await expect(validateObject(deployment!)).rejects.toThrow(/containerPort/);
    await expect(
      validateObject({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" } }),
    ).rejects.toThrow(/no Kubernetes schema/);
  });
});
