/** Exit codes of `herald`, stable for scripts. */
export const ExitCode = { Ok: 0, Failed: 1, Usage: 2, Unavailable: 3 } as const;

/** The command line is wrong (unknown command, missing argument, invalid id): exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
  readonly code = "usage";
}

/** The operation ran but did not succeed (an API error, a missing stream, a failed replay): exit 1. */
export class CommandFailedError extends Error {
  override name = "CommandFailedError";
  readonly code = "failed";
}

/** NATS could not be reached or refused the credentials: exit 3. */
export class UnavailableError extends Error {
  override name = "UnavailableError";
  readonly code = "unavailable";
}
