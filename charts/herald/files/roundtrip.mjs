// `helm test` round trip, run inside the connector image (mounted under /app so that its node_modules resolve):
// get a client token, open a WebSocket to the connector Service, publish one message to that user with a
// JetStream publish, and wait for it to arrive; then ack it. Exits 0 on success, 1 with a reason otherwise.
//
// The token: minted here with HERALD_JWT_SECRET (carrying HERALD_JWT_ISSUER / HERALD_JWT_AUDIENCE when set, as
// the connector then requires them), or HERALD_TEST_TOKEN as your identity provider issued it (tests.token).
// With neither (JWKS-only auth and no tests.token), it checks what it can without a token (NATS connects, the
// connector accepts a WebSocket) and prints SKIP with the reason, exiting 0.
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

if (!env.HERALD_TEST_URL) fail("HERALD_TEST_URL is not set");

const config = parseEnv(baseEnvSchema, env);
const logger = createLogger("helm-test", "warn");
const messageId = `helm-test-${randomBytes(8).toString("hex")}`;

async function mintToken() {
  const userId = `${env.HERALD_TEST_USER ?? "helm-test"}-${randomBytes(4).toString("hex")}`;
  let jwt = new SignJWT({ did: "helm-test" })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime("5m");
  if (env.HERALD_JWT_ISSUER) jwt = jwt.setIssuer(env.HERALD_JWT_ISSUER);
  if (env.HERALD_JWT_AUDIENCE) jwt = jwt.setAudience(env.HERALD_JWT_AUDIENCE);
  return jwt.sign(new TextEncoder().encode(env.HERALD_JWT_SECRET));
}

const token = env.HERALD_TEST_TOKEN?.trim() || (env.HERALD_JWT_SECRET ? await mintToken() : undefined);
// A backend's NATS identity (`publisher`): replies come below its inbox prefix.
const nats = await connectNats(config, "herald-helm-test", logger, "publisher");

if (token === undefined) {
  // Reachability only: the connector waits for an `auth` frame from a client without ?token=.
  const ws = new WebSocket(env.HERALD_TEST_URL);
  ws.on("error", (err) => fail(`websocket error: ${err.message}`));
  ws.on("open", async () => {
    ws.close(1000);
    await nats.nc.drain();
    console.log(
      "NATS connected and the connector accepted a WebSocket. SKIP: no round trip, because auth is JWKS-only " +
        "and the test cannot mint a token; set tests.token.existingSecret to a Secret holding a token from your " +
        "identity provider to run it.",
    );
    process.exit(0);
  });
} else {
  const s = subjects(config.HERALD_PREFIX);
  const ws = new WebSocket(`${env.HERALD_TEST_URL}?token=${encodeURIComponent(token)}`);
  ws.on("error", (err) => fail(`websocket error: ${err.message}`));
  // A refused token is answered at the upgrade: show the connector's reason (e.g. a missing `aud`).
  ws.on("unexpected-response", (_request, response) => {
    let body = "";
    response.on("data", (chunk) => {
      body += chunk;
    });
    response.on("end", () => fail(`the connector refused the token: HTTP ${response.statusCode} ${body}`));
  });
  ws.on("close", (code) => fail(`websocket closed with ${code} before the message arrived`));
  ws.on("message", async (raw) => {
    const frame = JSON.parse(String(raw));
    if (frame.type === "welcome") {
      // The user the connector verified: the minted one, or the `sub` of tests.token.
      console.log(`connected as ${frame.userId} (${frame.connectionId}); publishing ${messageId}`);
      const ack = await nats.js.publish(
        s.sendUser(userToken(frame.userId)),
        JSON.stringify({ id: messageId, data: { helmTest: true } }),
      );
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
}
