// What permessage-deflate without context takeover costs per frame and per socket, in one process with no
// sockets: each frame goes through one raw-deflate stream the way `ws` sends it (write, flush with
// Z_SYNC_FLUSH on zlib's thread pool, then reset), on the compression part's realistic payloads (bench/src/
// payloads.ts). The second figure is the RSS that 1,000 such streams hold once each has compressed one frame:
// `ws` keeps a socket's stream (and zlib's window and hash tables) after its first compressed frame and only
// resets it. Build first (pnpm build).
//
//   node bench/experiments/deflate-cost.mjs [frames, default 5000]
import { readFileSync } from "node:fs";
import { constants, createDeflateRaw } from "node:zlib";
import { realisticPayloads, sampleFrame } from "../dist/payloads.js";

const frames = Number(process.argv[2] ?? 5_000);
const rss = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0) * 1024;

/** Compresses one frame as `ws` does; resolves with the compressed bytes (the 4-byte sync tail included). */
function compress(stream, frame) {
  return new Promise((resolve) => {
    let bytes = 0;
    const count = (chunk) => {
      bytes += chunk.length;
    };
    stream.on("data", count);
    stream.write(frame);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      stream.off("data", count);
      stream.reset();
      resolve(bytes);
    });
  });
}

for (const bodyBytes of [200, 3_000]) {
  const inputs = realisticPayloads(bodyBytes).map((content) =>
    Buffer.from(sampleFrame("run-2-12345", content)),
  );
  const stream = createDeflateRaw({ windowBits: 15 });
  for (let i = 0; i < 500; i++) await compress(stream, inputs[i % inputs.length]); // warm-up
  const before = process.cpuUsage();
  let raw = 0;
  let deflated = 0;
  for (let i = 0; i < frames; i++) {
    const frame = inputs[i % inputs.length];
    raw += frame.length;
    deflated += (await compress(stream, frame)) - 4;
  }
  const cpu = process.cpuUsage(before);
  stream.close();
  console.log(
    `${Math.round(raw / frames)} B frames: ${((cpu.user + cpu.system) / frames).toFixed(1)} µs CPU per frame, ` +
      `deflated to ${(deflated / raw).toFixed(3)} of their size`,
  );
}

const sockets = 1_000;
const large = realisticPayloads(3_000).map((content) => Buffer.from(sampleFrame("run-2-12345", content)));
const before = rss();
const streams = [];
for (let i = 0; i < sockets; i++) {
  const stream = createDeflateRaw({ windowBits: 15 });
  streams.push(stream);
  await compress(stream, large[i % large.length]);
}
console.log(`RSS per stream after one compressed frame: ${Math.round((rss() - before) / sockets)} B`);
for (const stream of streams) stream.close();
