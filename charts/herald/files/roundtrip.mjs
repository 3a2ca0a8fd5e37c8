// `helm test` round trip, run inside the connector image (mounted under /app so that its node_modules resolve):
// mint a JWT for a fresh user, open a WebSocket to the connector Service, publish one message to that user with
// a JetStream publish, and wait for it to arrive; then ack it. Exits 0 on success, 1 with a reason otherwise.
import { randomBytes } from "node:crypto";
import { subjects, userToken } from "@herald/protocol";
import { baseEnvSchema, connectNats, createLogger, parseEnv } from "@herald/service-kit";
import { SignJWT } from "jose";
import WebSocket from "ws";

const env = process.env;
const timeoutMs = Number(env.HERALD_TEST_TIMEOUT_SECONDS ?? "60") * 1000;
const fail = (reason) => {
  console.error(`FAIL: ${reason}`);
  process.exit(1);
};
setTimeout(() => fail(`no round trip within ${timeoutMs} ms`), timeoutMs).unref();

if (!env.HERALD_JWT_SECRET) fail("HERALD_JWT_SECRET is not set; the test mints its own token (JWKS-only installs: tests.enabled=false)");
if (!env.HERALD_TEST_URL) fail("HERALD_TEST_URL is not set");

const config = parseEnv(baseEnvSchema, env);
const logger = createLogger("helm-test", "warn");
const userId = `${env.HERALD_TEST_USER ?? "helm-test"}-${randomBytes(4).toString("hex")}`;
const messageId = `helm-test-${randomBytes(8).toString("hex")}`;
const token = await new SignJWT({ did: "helm-test" })
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(userId)
  .setExpirationTime("5m")
  .sign(new TextEncoder().encode(env.HERALD_JWT_SECRET));

// A backend's NATS identity (`publisher`): replies come below its inbox prefix.
const nats = await connectNats(config, "herald-helm-test", logger, "publisher");
const s = subjects(config.HERALD_PREFIX);
const ws = new WebSocket(`${env.HERALD_TEST_URL}?token=${encodeURIComponent(token)}`);
ws.on("error", (err) => fail(`websocket error: ${err.message}`));
ws.on("close", (code) => fail(`websocket closed with ${code} before the message arrived`));
ws.on("message", async (raw) => {
  const frame = JSON.parse(String(raw));
  if (frame.type === "welcome") {
    console.log(`connected as ${frame.userId} (${frame.connectionId}); publishing ${messageId}`);
    const ack = await nats.js.publish(s.sendUser(userToken(userId)), JSON.stringify({ id: messageId, data: { helmTest: true } }));
    console.log(`accepted by ${ack.stream} seq ${ack.seq}`);
  } else if (frame.type === "message" && frame.id === messageId) {
    ws.send(JSON.stringify({ type: "ack", ids: [messageId] }));
    console.log(`round trip ok: ${messageId} delivered as seq ${frame.seq}`);
    ws.removeAllListeners("close");
    ws.close(1000);
    await nats.nc.drain();
    process.exit(0);
  } else if (frame.type === "error") {
    fail(`error frame ${frame.code}: ${frame.message}`);
  }
});
