import { describe, expect, it } from "vitest";
import { deploymentEnv, render } from "./helm.js";

describe("connector edge settings", () => {
  it("trusts one proxy hop behind the chart's own Ingress or HTTPRoute, and none otherwise", async () => {
    expect(deploymentEnv(await render(), "connector").HERALD_TRUSTED_PROXIES).toBeUndefined();
    const ingress = await render({ set: { "connector.ingress.enabled": "true" } });
    expect(deploymentEnv(ingress, "connector").HERALD_TRUSTED_PROXIES).toBe("1");
    const ranges = await render({
      set: { "connector.ingress.enabled": "true", "connector.config.trustedProxies": "10.0.0.0/8" },
    });
    expect(deploymentEnv(ranges, "connector").HERALD_TRUSTED_PROXIES).toBe("10.0.0.0/8");
  });

  it("renders the token lifetime, header timeout and send budgets when set", async () => {
    const objects = await render({
      set: {
        "connector.config.maxTokenLifetime": "1h",
        "connector.config.headersTimeout": "5s",
        "connector.config.maxBufferedBytesPerUser": "8388608",
        "connector.config.maxBufferedBytesTotal": "134217728",
      },
    });
    expect(deploymentEnv(objects, "connector")).toMatchObject({
      HERALD_MAX_TOKEN_LIFETIME: "1h",
      HERALD_HEADERS_TIMEOUT: "5s",
      HERALD_MAX_BUFFERED_BYTES_PER_USER: "8388608",
      HERALD_MAX_BUFFERED_BYTES_TOTAL: "134217728",
    });
  });
});
