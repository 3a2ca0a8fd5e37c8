// What each connection holds on the JS heap: the self size and count of every constructor (or closure, or
// internal kind) in a heap snapshot taken with N connections, minus one taken with none, divided by N.
//
//   BENCH_IDLE_HEAP_DIR=/tmp/heap pnpm bench --quick --only idle --out /tmp/idle
//   node bench/experiments/heap-by-constructor.mjs /tmp/heap/<before>.heapsnapshot /tmp/heap/<after>.heapsnapshot 2000
//
// Self sizes, not retained sizes: what each object itself takes, so the rows add up to the heap's growth.
import { readFileSync } from "node:fs";

function byConstructor(path) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(path, "utf8"));
  const fields = snapshot.meta.node_fields;
  const types = snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
  const rows = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    // Strings, numbers and code are grouped by kind; objects and closures by constructor or function name.
    const named = type === "object" || type === "closure" || type === "native" || type === "hidden";
    const key = named ? `${type}: ${strings[nodes[i + nameAt]].slice(0, 60)}` : `(${type})`;
    const size = nodes[i + sizeAt];
    total += size;
    const row = rows.get(key) ?? { count: 0, bytes: 0 };
    row.count++;
    row.bytes += size;
    rows.set(key, row);
  }
  return { rows, total };
}

const [beforePath, afterPath, connections] = process.argv.slice(2);
if (!beforePath || !afterPath || !connections) {
  console.error("usage: heap-by-constructor.mjs <before.heapsnapshot> <after.heapsnapshot> <connections>");
  process.exit(2);
}
const n = Number(connections);
const before = byConstructor(beforePath);
const after = byConstructor(afterPath);
const diff = [];
for (const [key, row] of after.rows) {
  const was = before.rows.get(key) ?? { count: 0, bytes: 0 };
  diff.push({ key, count: (row.count - was.count) / n, bytes: (row.bytes - was.bytes) / n });
}
diff.sort((a, b) => b.bytes - a.bytes);
console.log(
  `heap ${before.total} → ${after.total} B: ${Math.round((after.total - before.total) / n)} B per connection`,
);
console.log("bytes/conn  count/conn  constructor");
for (const row of diff.slice(0, Number(process.env.TOP ?? 45))) {
  if (Math.abs(row.bytes) < 4) continue;
  console.log(`${row.bytes.toFixed(0).padStart(10)}  ${row.count.toFixed(2).padStart(10)}  ${row.key}`);
}
