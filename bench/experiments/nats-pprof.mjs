// Where nats-server spends its CPU: takes a Go CPU profile from a server started with `prof_port` (the bench
// does so with BENCH_NATS_CONFIG="prof_port: <port>") and lists the functions by self and by inclusive time.
//
//   node bench/experiments/nats-pprof.mjs http://127.0.0.1:65432 [seconds=10] [--top 40] [--save file.pb.gz]
//   node bench/experiments/nats-pprof.mjs file.pb.gz [--top 40] [--inclusive REGEX] [--callers REGEX] [--callees REGEX]
//
// The profile is gzipped protobuf (github.com/google/pprof, proto/profile.proto); the few fields needed are
// read here by hand so the experiment needs no Go toolchain.
import { readFileSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

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

/** The varint at `at` in `buf`: [value, position after it]. Ids and nanosecond counts fit a double exactly. */
function varintAt(buf, at) {
  let result = 0;
  let shift = 1;
  for (let i = at; ; ) {
    const byte = buf[i++];
    result += (byte & 0x7f) * shift;
    if (byte < 0x80) return [result, i];
    shift *= 128;
  }
}

/** Each field of one protobuf message: [fieldNumber, wireType, value] (a number, or a Buffer when delimited). */
function* fields(buf) {
  let i = 0;
  const varint = () => {
    const [value, next] = varintAt(buf, i);
    i = next;
    return value;
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield [field, wire, varint()];
    else if (wire === 2) {
      const length = varint();
      yield [field, wire, buf.subarray(i, i + length)];
      i += length;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`wire type ${wire}`);
  }
}

/** A packed repeated varint field. */
function packed(buf) {
  const out = [];
  for (let i = 0; i < buf.length; ) {
    const [value, next] = varintAt(buf, i);
    out.push(value);
    i = next;
  }
  return out;
}

const strings = [];
const functions = new Map(); // id -> name index
const locations = new Map(); // id -> [function ids], innermost first
const samples = []; // [locationIds, values]
const sampleTypes = [];
for (const [field, , value] of fields(gunzipSync(raw))) {
  if (field === 6) strings.push(value.toString("utf8"));
  else if (field === 1) {
    const t = {};
    for (const [f, , v] of fields(value)) t[f === 1 ? "type" : "unit"] = v;
    sampleTypes.push(t);
  } else if (field === 2) {
    let locs = [];
    let values = [];
    for (const [f, w, v] of fields(value)) {
      if (f === 1) locs = locs.concat(w === 2 ? packed(v) : [v]);
      if (f === 2) values = values.concat(w === 2 ? packed(v) : [v]);
    }
    samples.push([locs, values]);
  } else if (field === 4) {
    let id = 0;
    const fns = [];
    for (const [f, , v] of fields(value)) {
      if (f === 1) id = v;
      if (f === 4) for (const [lf, , lv] of fields(v)) if (lf === 1) fns.push(lv);
    }
    locations.set(id, fns);
  } else if (field === 5) {
    let id = 0;
    let name = 0;
    for (const [f, , v] of fields(value)) {
      if (f === 1) id = v;
      if (f === 2) name = v;
    }
    functions.set(id, name);
  }
}

const valueIndex = sampleTypes.findIndex((t) => strings[t.type] === "cpu");
const self = new Map();
const incl = new Map();
let total = 0;
let matched = 0;
const pattern = inclusive ? new RegExp(inclusive) : undefined;
const calleePattern = callersOf ? new RegExp(callersOf) : undefined;
const callers = new Map();
const parentPattern = calleesOf ? new RegExp(calleesOf) : undefined;
const callees = new Map();
for (const [locs, values] of samples) {
  const v = values[valueIndex < 0 ? values.length - 1 : valueIndex] ?? 0;
  total += v;
  const names = locs.flatMap((l) => (locations.get(l) ?? []).map((f) => strings[functions.get(f)] ?? "?"));
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
