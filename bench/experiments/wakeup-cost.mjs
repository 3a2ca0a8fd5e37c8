// What one wake-up costs on this machine: a child process echoes one byte over loopback TCP, paced by the
// parent at each rate; the child's CPU time (from /proc) per echo is the floor of every hop a Herald message
// takes (publisher → nats-server → router → nats-server → connector → client, and the acks back), since each
// hop wakes a process that was waiting for the next message.
//
//   node bench/experiments/wakeup-cost.mjs [rates, default 200,1000,5000] [seconds per rate, default 5]
// (after `pnpm build`: it reads /proc with the bench's own helper)
import { fork } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { sleep } from "../dist/clock.js";
import { cpuSeconds } from "../dist/procfs.js";

if (process.argv[2] === "--echo") {
  const socket = net.connect(Number(process.argv[3]), "127.0.0.1", () => socket.setNoDelay(true));
  socket.on("data", (chunk) => socket.write(chunk));
} else {
  const rates = (process.argv[2] ?? "200,1000,5000").split(",").map(Number);
  const seconds = Number(process.argv[3] ?? 5);

  for (const rate of rates) {
    const server = net.createServer();
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const accepted = new Promise((resolve) => server.once("connection", resolve));
    const child = fork(fileURLToPath(import.meta.url), ["--echo", String(server.address().port)]);
    const socket = await accepted;
    socket.setNoDelay(true);
    await sleep(500); // start-up CPU is not counted
    let echoes = 0;
    socket.on("data", (chunk) => {
      echoes += chunk.length;
    });
    const childBefore = await cpuSeconds(child.pid);
    const start = performance.now();
    let sent = 0;
    while (performance.now() - start < seconds * 1000) {
      const due = Math.floor(((performance.now() - start) * rate) / 1000);
      // One byte per write, so each is its own wake-up unless the child is already busy.
      for (; sent < due; sent++) socket.write("x");
      await sleep(1);
    }
    await sleep(200);
    const elapsed = (performance.now() - start) / 1000;
    const childCpu = (await cpuSeconds(child.pid)) - childBefore;
    console.log(
      JSON.stringify({
        rate,
        echoes,
        childCpuMicrosPerEcho: Math.round((childCpu * 1e6) / Math.max(1, echoes)),
        childCores: Math.round((childCpu / elapsed) * 1000) / 1000,
      }),
    );
    child.kill();
    socket.destroy();
    server.close();
  }
}
