import type { K8sObject } from "./helm.js";

/** Custom resources the chart may render; kubernetes-models has no schemas for them. */
const customResources = new Set([
  "monitoring.coreos.com/v1/ServiceMonitor",
  "monitoring.coreos.com/v1/PrometheusRule",
  "gateway.networking.k8s.io/v1/HTTPRoute",
]);

type Model = { validate(): void };
type ModelClass = new (data: unknown) => Model;

/**
 * Validates an object against the Kubernetes API schema of its kind (kubernetes-models, generated from the
 * OpenAPI spec). Custom resources get a structural check. Throws with the object's identity on failure.
 */
export async function validateObject(obj: K8sObject): Promise<void> {
  const id = `${obj.apiVersion}/${obj.kind} ${obj.metadata?.name}`;
  if (!obj.metadata?.name) throw new Error(`${id}: metadata.name is missing`);
  if (customResources.has(`${obj.apiVersion}/${obj.kind}`)) {
    if (typeof obj.spec !== "object" || obj.spec === null) throw new Error(`${id}: spec is missing`);
    return;
  }
  let Class: ModelClass | undefined;
  try {
    const module = (await import(
      /* @vite-ignore */ `kubernetes-models/${obj.apiVersion}/${obj.kind}`
    )) as Record<string, ModelClass>;
    Class = module[obj.kind];
  } catch {
    Class = undefined;
  }
  if (!Class) throw new Error(`${id}: no Kubernetes schema for this kind (not a built-in API?)`);
  try {
    new Class(obj).validate();
  } catch (err) {
    throw new Error(`${id}: ${err instanceof Error ? err.message : String(err)}`);
  }
}
