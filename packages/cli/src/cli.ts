import { parseArgs } from "node:util";
import { ConfigError } from "@herald/service-kit";
import { deadList, deadReplay } from "./commands/dead.js";
import { erase } from "./commands/erase.js";
import { publish } from "./commands/publish.js";
import { devices, health, presence } from "./commands/query.js";
import { tail } from "./commands/tail.js";
import { type Ctx, type Io, type Options, openContext } from "./context.js";
import { CommandFailedError, ExitCode, UnavailableError, UsageError } from "./errors.js";

export const HELP = `herald: operate a running Herald over NATS

Usage: herald <command> [arguments] [--json]

  publish user <userId> <data> [--id ID]     JetStream publish, as a backend does; <data> is JSON, or
  publish users <id,id,...> <data> [--id ID] [--key KEY]
                                              taken as a string when it does not parse; --key: messages
                                              with one key keep their order, keys are routed in parallel
  publish channel <channel> <data> [--id ID]
  publish broadcast <data> [--id ID]
  tail user <userId> | channel <channel> | broadcast
       [--since SEQ] [--count N] [--timeout SECONDS]
                                              print messages as they are stored (from after SEQ)
  presence [userId ...]                       who is online where; without ids: users/connections counts
  devices <userId>                            each device's acked cursor and pending count
  health                                      streams and durable consumers (exit 1 if one is missing)
  dead list [--reason R] [--seq N] [--limit N]
                                              dead letters: counts by reason, then each one
  dead replay [--reason R] [--seq N] [--limit N] [--keep]
                                              publish them again to their original subject (after a
                                              fix), then remove them from the dead-letter stream
  erase <userId> --yes                        data-protection erasure: disconnect, purge the mailbox,
                                              delete the device cursors

Options: --json (one JSON document per result or message), --help
Environment: NATS_URL (default nats://127.0.0.1:4222), NATS_USER/NATS_PASSWORD, NATS_TOKEN,
  NATS_CREDS_FILE, NATS_NKEY_SEED_FILE, NATS_TLS_CA_FILE/NATS_TLS_CERT_FILE/NATS_TLS_KEY_FILE,
  HERALD_PREFIX, HERALD_CHANNEL_RETENTION (as the services have them)
Exit codes: 0 ok, 1 the operation failed, 2 bad usage, 3 NATS unreachable`;

function parse(argv: string[]): { positionals: string[]; options: Options; help: boolean } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
        id: { type: "string" },
        key: { type: "string" },
        since: { type: "string" },
        count: { type: "string" },
        timeout: { type: "string" },
        reason: { type: "string" },
        seq: { type: "string" },
        limit: { type: "string" },
        keep: { type: "boolean", default: false },
        yes: { type: "boolean", default: false },
      },
    });
    const { help, ...options } = values;
    return { positionals, options, help };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const COMMANDS: Record<string, (ctx: Ctx, args: string[]) => Promise<void>> = {
  publish,
  tail,
  presence,
  devices,
  health: (ctx) => health(ctx),
  erase,
  dead: async (ctx, [sub]) => {
    if (sub === "list") return deadList(ctx);
    if (sub === "replay") return deadReplay(ctx);
    throw new UsageError("dead list | dead replay");
  },
};

/** Runs one command line; returns the exit code. Never throws. */
export async function run(argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  let ctx: Ctx | undefined;
  try {
    const { positionals, options, help } = parse(argv);
    const [name, ...args] = positionals;
    if (help || name === undefined || name === "help") {
      io.out(HELP);
      return name === undefined && !help ? ExitCode.Usage : ExitCode.Ok;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`);
    ctx = await openContext(env, options, io);
    await command(ctx, args);
    return ExitCode.Ok;
  } catch (err) {
    return report(err, io);
  } finally {
    await ctx?.nc.close().catch(() => {});
  }
}

function report(err: unknown, io: Io): number {
  if (err instanceof UsageError || err instanceof ConfigError) {
    io.err(`herald: ${err.message}\nRun 'herald --help' for usage.`);
    return ExitCode.Usage;
  }
  if (err instanceof UnavailableError) {
    io.err(`herald: ${err.message}`);
    return ExitCode.Unavailable;
  }
  // A failure the command already printed in full (e.g. `health`) only needs its summary.
  io.err(
    `herald: ${err instanceof CommandFailedError ? err.message : `failed: ${(err as Error)?.message ?? err}`}`,
  );
  return ExitCode.Failed;
}
