// Where nats-server spends its CPU: takes a Go CPU profile from a server started with `prof_port` (the bench
// does so with BENCH_NATS_CONFIG="prof_port: <port>") and lists the functions by self and by inclusive time.
//
//   node bench/experiments/nats-pprof.mjs http://127.0.0.1:65432 [seconds=10] [--top 40] [--save file.pb.gz]
//   node bench/experiments/nats-pprof.mjs file.pb.gz [--top 40] [--inclusive REGEX] [--callers REGEX] [--callees REGEX]
//
// The profile is gzipped protobuf (github.com/google/pprof, proto/profile.proto), read with `pprof-format`, so
// the experiment needs no Go toolchain.
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at < 0 ? fallback : args.splice(at, 2)[1];
};
const top = Number(flag("--top", "40"));
const save = flag("--save", undefined);
const inclusive = flag("--inclusive", undefined);
const callersOf = flag("--callers", undefined);
const calleesOf = flag("--callees", undefined);
const [source, seconds = "10"] = args;
if (!source) {
  console.error("usage: nats-pprof.mjs <http://host:prof_port | file.pb.gz> [seconds] [--top N] [--save F]");
  process.exit(2);
}

let raw;
if (source.startsWith("http")) {
  const response = await fetch(`${source}/debug/pprof/profile?seconds=${seconds}`);
  if (!response.ok) throw new Error(`pprof answered ${response.status}`);
  raw = Buffer.from(await response.arrayBuffer());
  if (save) writeFileSync(save, raw);
} else raw = readFileSync(source);

const profile = Profile.decode(gunzipSync(raw));
const strings = profile.stringTable.strings;
const functionName = new Map(profile.function.map((f) => [Number(f.id), strings[Number(f.name)] ?? "?"]));
/** Each location's function names, innermost (inlined) first. */
const locationNames = new Map(
  profile.location.map((l) => [
    Number(l.id),
    l.line.map((line) => functionName.get(Number(line.functionId)) ?? "?"),
  ]),
);

const valueIndex = profile.sampleType.findIndex((t) => strings[Number(t.type)] === "cpu");
const self = new Map();
const incl = new Map();
let total = 0;
let matched = 0;
const pattern = inclusive ? new RegExp(inclusive) : undefined;
const calleePattern = callersOf ? new RegExp(callersOf) : undefined;
const callers = new Map();
const parentPattern = calleesOf ? new RegExp(calleesOf) : undefined;
const callees = new Map();
for (const sample of profile.sample) {
  const v = Number(sample.value[valueIndex < 0 ? sample.value.length - 1 : valueIndex] ?? 0);
  total += v;
  const names = sample.locationId.flatMap((l) => locationNames.get(Number(l)) ?? []);
  const leaf = names[0] ?? "?";
  self.set(leaf, (self.get(leaf) ?? 0) + v);
  for (const name of new Set(names)) incl.set(name, (incl.get(name) ?? 0) + v);
  if (pattern && names.some((n) => pattern.test(n))) matched += v;
  const at = calleePattern ? names.findIndex((n) => calleePattern.test(n)) : -1;
  if (at >= 0) {
    // the first caller outside the runtime's own helpers
    const caller = names.slice(at + 1).find((n) => !/^(runtime|internal\/runtime)\./.test(n)) ?? "?";
    callers.set(caller, (callers.get(caller) ?? 0) + v);
  }
  // names run from the leaf up: the callee is the frame just below the outermost match
  const outer = parentPattern ? names.findLastIndex((n) => parentPattern.test(n)) : -1;
  if (outer >= 0) {
    const callee = outer === 0 ? "(self)" : (names[outer - 1] ?? "?");
    callees.set(callee, (callees.get(callee) ?? 0) + v);
  }
}
const pct = (v) => `${((100 * v) / total).toFixed(1).padStart(5)} %`;
console.log(`total CPU in the profile: ${(total / 1e9).toFixed(2)} s`);
if (pattern) console.log(`under /${inclusive}/: ${pct(matched)}`);
if (calleePattern) {
  console.log(`\ncallers of /${callersOf}/:`);
  for (const [name, v] of [...callers].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${pct(v)}  ${name}`);
}
if (parentPattern) {
  console.log(`\ncallees of /${calleesOf}/ (inclusive):`);
  for (const [name, v] of [...callees].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${pct(v)}  ${name}`);
}
console.log("\nself:");
for (const [name, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(v)}  ${name}`);
console.log("\ninclusive:");
for (const [name, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(v)}  ${name}`);
