/** Where tests run nats-server: a local process (the pinned binary) or a container of the pinned image. */
export type NatsMode = "process" | "container";

/** The env var that chooses the mode; unset means `process`. */
export const NATS_MODE_ENV = "HERALD_TEST_NATS";
const MODES: readonly NatsMode[] = ["process", "container"];

/** Raised when `HERALD_TEST_NATS` names no mode. */
export class NatsModeError extends Error {
  override name = "NatsModeError";
  readonly code = "nats_mode";
}

/**
 * The mode `HERALD_TEST_NATS` asks for: `process` (the default) or `container`.
 *
 * @example
 * natsMode({ HERALD_TEST_NATS: "container" }) // "container"
 */
export function natsMode(env: Record<string, string | undefined> = process.env): NatsMode {
  const value = env[NATS_MODE_ENV]?.trim() ?? "";
  if (value === "") return "process";
  const mode = MODES.find((candidate) => candidate === value.toLowerCase());
  if (!mode) {
    throw new NatsModeError(
      `${NATS_MODE_ENV}=${value} is not one of: ${MODES.join(", ")} (unset means process)`,
    );
  }
  return mode;
}

/** One line saying how this run starts NATS, e.g. for the start of a test run. */
export function describeNatsMode(mode: NatsMode): string {
  return mode === "container"
    ? `NATS: containers of the pinned nats image via testcontainers (${NATS_MODE_ENV}=container)`
    : `NATS: local nats-server processes, the pinned binary (${NATS_MODE_ENV}=process; container to use testcontainers)`;
}

// An env var, not a module variable: vitest loads a global setup once per project, in the same process.
const ANNOUNCED_ENV = "HERALD_TEST_NATS_ANNOUNCED";

/**
 * Checks `HERALD_TEST_NATS` and says once per process (and its children) which mode the run uses; throws
 * `NatsModeError` for an unknown mode, so a typo stops the run before any test.
 */
export function announceNatsMode(
  env: Record<string, string | undefined> = process.env,
  log: (line: string) => void = console.log,
): NatsMode {
  const mode = natsMode(env);
  if (env[ANNOUNCED_ENV] !== "1") {
    env[ANNOUNCED_ENV] = "1";
    log(describeNatsMode(mode));
  }
  return mode;
}
