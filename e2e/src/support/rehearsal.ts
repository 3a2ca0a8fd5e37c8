import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, type Service } from "@herald/testkit";
import { type Component, componentObject, deploymentEnv, type K8sObject } from "../chart/helm.js";

/** Raised when the rendered chart asks for something the rehearsal cannot provide (an unknown secret). */
export class RehearsalPlanError extends Error {
  override name = "RehearsalPlanError";
  readonly code = "rehearsal_plan";
}

/** How one component's pods would run, read from its rendered Deployment and its image's Dockerfile. */
export type PodPlan = {
  component: Component;
  /** `spec.replicas` of the Deployment. */
  replicas: number;
  /** The container env exactly as rendered (secret references resolved to test values). */
  chartEnv: Record<string, string>;
  /** `ENV` of the image's final stage (what the container has besides the chart's env). */
  imageEnv: Record<string, string>;
  /** What the rehearsal changes because it cannot apply on one machine, with the reason. */
  overrides: Record<string, { value: string; why: string }>;
  /** `readinessProbe.httpGet.path`. */
  readinessPath: string;
};

/**
 * `ENV` assignments of the final stage of the Dockerfile (`KEY=value` forms only): the same for every component,
 * since one Dockerfile builds them all.
 */
export function imageEnv(): Record<string, string> {
  const text = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
  const finalStage = text.slice(text.lastIndexOf("\nFROM "));
  const env: Record<string, string> = {};
  for (const line of finalStage.split("\n")) {
    if (!line.startsWith("ENV ")) continue;
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const eq = pair.indexOf("=");
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/**
 * The plan for one component: the rendered env with `secret:<name>/<key>` resolved from `secrets` (an unknown
 * reference fails, so a new secret in the chart cannot slip past the rehearsal), plus the local overrides.
 */
export function podPlan(
  objects: K8sObject[],
  component: Component,
  secrets: Record<string, string>,
): PodPlan {
  const deployment = componentObject(objects, "Deployment", component);
  if (!deployment) throw new RehearsalPlanError(`no Deployment for ${component}`);
  const container = deployment.spec.template.spec.containers[0];
  const chartEnv: Record<string, string> = {};
  for (const [key, value] of Object.entries(deploymentEnv(objects, component))) {
    if (!value.startsWith("secret:")) {
      chartEnv[key] = value;
      continue;
    }
    const ref = value.slice("secret:".length);
    const resolved = secrets[ref];
    if (resolved === undefined)
      throw new RehearsalPlanError(`${component}: no test value for ${value} (${key})`);
    chartEnv[key] = resolved;
  }
  // Several replicas share this host, so the ports the Deployment declares cannot all be bound: each process
  // picks a free one and logs it (the fixtures read it from there).
  const overrides: PodPlan["overrides"] = {};
  if (chartEnv.ADMIN_PORT !== undefined) {
    overrides.ADMIN_PORT = { value: "0", why: `replicas share one host (chart: ${chartEnv.ADMIN_PORT})` };
  }
  if (component === "connector" && chartEnv.PORT !== undefined) {
    overrides.PORT = { value: "0", why: `replicas share one host (chart: ${chartEnv.PORT})` };
  }
  const image = imageEnv();
  // The image sets HOME=/tmp; here the temp dir is the machine's.
  if (image.HOME !== undefined) overrides.HOME = { value: tmpdir(), why: `image HOME (${image.HOME})` };
  return {
    component,
    replicas: Number(deployment.spec.replicas ?? 1),
    chartEnv,
    imageEnv: image,
    overrides,
    readinessPath: String(container.readinessProbe?.httpGet?.path ?? ""),
  };
}

/**
 * The process env for `startService`: only the image's env, the chart's env and the overrides. Every other
 * variable of the test process is unset (`undefined` removes it), so nothing leaks in from the developer's
 * shell or the test runner; PATH stays, as any container has one.
 */
export function processEnv(plan: PodPlan): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const key of Object.keys(process.env)) if (key !== "PATH") env[key] = undefined;
  Object.assign(env, plan.imageEnv, plan.chartEnv);
  for (const [key, { value }] of Object.entries(plan.overrides)) env[key] = value;
  return env;
}

/** Whether the service's log says it currently holds its lease (the last of `acquired` / `lost` wins). */
export function holdsLease(service: Service, acquired: string, lost: string): boolean {
  let held = false;
  for (const record of service.logRecords()) {
    if (record.msg === acquired) held = true;
    if (record.msg === lost) held = false;
  }
  return held;
}

/** `GET <readinessPath>` answers 200 (false while the process is down or restarting). */
export async function isReady(service: Service, path = "/readyz"): Promise<boolean> {
  if (service.pid === undefined || service.adminPort === 0) return false;
  try {
    const response = await fetch(`${service.adminUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status === 200;
  } catch {
    return false;
  }
}

/**
 * Restarts the service whenever it exits, as the kubelet does with a Deployment's pods (restartPolicy Always),
 * until `stop()`; the kubelet's back-off starts at 10 s, here `backoffMs`. `restarts` counts them, with the
 * last output lines of each exit in `exits`.
 */
export function restartLikeKubelet(service: Service, backoffMs = 1_000) {
  let stopped = false;
  const exits: string[] = [];
  const watch = (): void => {
    void service.exited().then(async (info) => {
      if (stopped) return;
      exits.push(
        `${service.name} exited (${info.code ?? info.signal}):\n${service
          .logs()
          .filter((line) => !line.startsWith("    at "))
          .slice(-3)
          .join("\n")}`,
      );
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      if (stopped) return;
      await service.restart().catch(() => {});
      watch();
    });
  };
  watch();
  return {
    exits,
    restarts: () => exits.length,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * The service's log messages since `since` (epoch ms) as `+<ms> <msg>` lines, consecutive repeats of one
 * message folded into a count, at most `max` lines.
 */
export function logTimeline(service: Service, since: number, max: number): string[] {
  const lines: string[] = [];
  let previous: unknown;
  let repeats = 0;
  const fold = () => {
    if (repeats > 0) lines.push(`      (${repeats} more)`);
    repeats = 0;
  };
  for (const record of service.logRecords()) {
    const at = Date.parse(String(record.time));
    if (!(at >= since)) continue;
    if (record.msg === previous) {
      repeats++;
      continue;
    }
    fold();
    previous = record.msg;
    lines.push(`    +${at - since} ms ${record.msg}`);
  }
  fold();
  return lines.slice(0, max);
}
