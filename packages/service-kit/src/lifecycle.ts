import { sleep } from "./backoff.js";
import { ConfigError } from "./config.js";
import type { Logger } from "./logger.js";

export type Stoppable = { stop: () => Promise<void> };

/**
 * Runs a service's composition root: reports start-up failures clearly (exit 1), and on SIGTERM or SIGINT
 * runs the ordered drain once, exiting 0, or 1 if it fails or exceeds `timeoutMs`.
 */
export function runService(
  start: () => Promise<{ service: Stoppable; logger: Logger; timeoutMs: number }>,
): void {
  start()
    .then(({ service, logger, timeoutMs }) => {
      let stopping = false;
      const onSignal = (signal: NodeJS.Signals) => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, "draining");
        const timer = setTimeout(() => {
          logger.error({ timeoutMs }, "drain timed out; exiting");
          process.exit(1);
        }, timeoutMs);
        timer.unref();
        service.stop().then(
          () => {
            logger.info("drained; bye");
            process.exit(0);
          },
          (err: unknown) => {
            logger.error({ err }, "drain failed");
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
      } else {
        process.stderr.write(
          `failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
      }
      process.exit(1);
    });
}

/** Resolves after `ms`, or at once when `signal` aborts (the same timer as `sleep`). */
export const delay = sleep;
