#!/usr/bin/env node
// `herald`: see `herald --help`. Exit codes: 0 ok, 1 the operation failed, 2 bad usage, 3 NATS unreachable.
import { run } from "./cli.js";

process.exitCode = await run(process.argv.slice(2), process.env, {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
