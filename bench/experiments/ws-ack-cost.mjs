#!/usr/bin/env node
// What a per-message ack costs a WebSocket server, without Herald: a plain `ws` server sends `rate` messages a
// second round-robin to `conns` clients in a child process, which either only receive them or ack each one back
// as Herald's clients do (one `{"type":"ack","ids":[…]}` frame per macrotask). Prints the server's CPU per message
// (user + system, and system alone), so the two settings can be compared in one sitting.
//   node bench/experiments/ws-ack-cost.mjs [rate=10000] [seconds=5] [conns=1000] [rounds=2]
import { fork } from "node:child_process";
import { WebSocket, WebSocketServer } from "ws";

const PAYLOAD = "x".repeat(200);

async function client(port, conns, ack) {
  let received = 0;
  const opened = [];
  for (let i = 0; i < conns; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    let pending = [];
    ws.on("message", (data) => {
      received++;
      if (!ack) return;
      pending.push(JSON.parse(data.toString()).id);
      if (pending.length > 1) return;
      setTimeout(() => {
        ws.send(JSON.stringify({ type: "ack", ids: pending }));
        pending = [];
      }, 0);
    });
    opened.push(new Promise((resolve) => ws.once("open", resolve)));
  }
  await Promise.all(opened);
  process.send("ready");
  process.on("message", () => process.send(received));
}

async function round(rate, seconds, conns, ack) {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  const sockets = [];
  let acked = 0;
  wss.on("connection", (ws) => {
    sockets.push(ws);
    ws.on("message", (data) => {
      acked += JSON.parse(data.toString()).ids.length;
    });
  });
  await new Promise((resolve) => wss.once("listening", resolve));
  const args = ["--client", String(wss.address().port), String(conns), ack ? "ack" : "none"];
  const child = fork(new URL(import.meta.url).pathname, args);
  await new Promise((resolve) => child.once("message", resolve));
  const total = rate * seconds;
  let sent = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
      for (; sent < due; sent++) {
        const frame = `{"type":"message","id":"m-${sent}","seq":${sent},"data":"${PAYLOAD}","ts":${Date.now()}}`;
        sockets[sent % sockets.length].send(frame);
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const used = process.cpuUsage(cpu);
  const received = await new Promise((resolve) => {
    child.once("message", resolve);
    child.send("count");
  });
  child.kill();
  wss.close();
  const perMessage = (us) => Math.round((us / total) * 10) / 10;
  return {
    clients: ack ? "ack each message" : "receive only",
    sent: total,
    received,
    acked,
    serverCpuMicrosPerMessage: perMessage(used.user + used.system),
    systemMicrosPerMessage: perMessage(used.system),
  };
}

if (process.argv[2] === "--client") {
  await client(Number(process.argv[3]), Number(process.argv[4]), process.argv[5] === "ack");
} else {
  const [rate = 10_000, seconds = 5, conns = 1_000, rounds = 2] = process.argv.slice(2).map(Number);
  for (let r = 0; r < rounds; r++)
    for (const ack of [false, true]) console.log(JSON.stringify(await round(rate, seconds, conns, ack)));
  process.exit(0);
}
