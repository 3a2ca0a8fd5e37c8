#!/usr/bin/env node
// CPU per HS256 token check, the work a connector does for every connection: jose's `jwtVerify` given the raw
// secret (it imports a WebCrypto key each time), given a `CryptoKey` imported once (what the connector's
// `auth.ts` does), and a synchronous `node:crypto` HMAC compare for scale. Process CPU includes the thread pool
// WebCrypto runs its jobs on; `seq` awaits one check at a time, `par` starts them all at once.
//   node bench/experiments/jwt-verify-cost.mjs [tokens, default 5000] [rounds, default 2]
import { createHmac, timingSafeEqual } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

const count = Number(process.argv[2] ?? 5000);
const rounds = Number(process.argv[3] ?? 2);
const secret = new TextEncoder().encode("jwt-verify-cost-secret-0123456789abcdef");
const tokens = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    new SignJWT({ sub: `u${i}`, did: "d1" })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(secret),
  ),
);
const key = await crypto.subtle.importKey("raw", secret, { name: "HMAC", hash: "SHA-256" }, false, [
  "verify",
]);
const rawKey = Buffer.from(secret);

const checks = {
  "jose, raw secret": (token) => jwtVerify(token, secret, { algorithms: ["HS256"] }),
  "jose, CryptoKey": (token) => jwtVerify(token, key, { algorithms: ["HS256"] }),
  "node:crypto HMAC": async (token) => {
    const dot = token.lastIndexOf(".");
    const mac = createHmac("sha256", rawKey).update(token.slice(0, dot)).digest();
    const signature = Buffer.from(token.slice(dot + 1), "base64url");
    if (mac.length !== signature.length || !timingSafeEqual(mac, signature)) throw new Error("bad signature");
  },
};

const cpuMicros = () => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

for (let round = 1; round <= rounds; round++) {
  for (const [name, check] of Object.entries(checks)) {
    for (const mode of ["seq", "par"]) {
      const cpu = cpuMicros();
      const start = performance.now();
      if (mode === "seq") for (const token of tokens) await check(token);
      else await Promise.all(tokens.map(check));
      const perCheck = (cpuMicros() - cpu) / count;
      const wall = ((performance.now() - start) * 1000) / count;
      console.log(
        JSON.stringify({ round, check: name, mode, cpuUs: +perCheck.toFixed(1), wallUs: +wall.toFixed(1) }),
      );
    }
  }
}
