import type { Service } from "@herald/testkit";

/** True while the service's current process has not exited (an exit already seen settles first). */
export async function stillRunning(service: Service): Promise<boolean> {
  const exited = service.exited().then(() => "exited" as const);
  const running = new Promise<"running">((resolve) => setTimeout(() => resolve("running"), 50));
  return (await Promise.race([exited, running])) === "running";
}

/** The services of `all` whose process has exited, by name (empty when every one still runs). */
export async function exitedServices(all: Service[]): Promise<string[]> {
  const states = await Promise.all(all.map(async (s) => ((await stillRunning(s)) ? undefined : s.name)));
  return states.filter((name): name is Service["name"] => name !== undefined);
}
