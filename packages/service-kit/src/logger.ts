import { type Logger, pino } from "pino";

export type { Logger };

/** JSON logs to stdout; one child per component (`logger.child({ component })`). */
export function createLogger(service: string, level: string): Logger {
  return pino({ level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
