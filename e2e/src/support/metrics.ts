import type { Service } from "@herald/testkit";

/**
 * One value of a service's Prometheus text exposition: the first sample of `name` whose labels contain
 * `labelMatch` (any sample when empty), or undefined.
 */
export async function scrapeMetric(
  service: Service,
  name: string,
  labelMatch = "",
): Promise<number | undefined> {
  const response = await fetch(`${service.adminUrl}/metrics`, { signal: AbortSignal.timeout(2_000) });
  const text = await response.text();
  const line = text
    .split("\n")
    .find((l) => (l.startsWith(`${name} `) || l.startsWith(`${name}{`)) && l.includes(labelMatch));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** The sum of every sample of `name` whose labels contain `labelMatch` (0 when there is none). */
export async function sumMetric(service: Service, name: string, labelMatch = ""): Promise<number> {
  const response = await fetch(`${service.adminUrl}/metrics`, { signal: AbortSignal.timeout(2_000) });
  let sum = 0;
  for (const line of (await response.text()).split("\n")) {
    if ((line.startsWith(`${name} `) || line.startsWith(`${name}{`)) && line.includes(labelMatch)) {
      sum += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return sum;
}
