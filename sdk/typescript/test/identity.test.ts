// Tokens signed here are the tokens supportflow's Python verifier accepts (and refuses).
import assert from "node:assert/strict";
import { test } from "node:test";
import { signIdentityToken } from "../src";
import { PYTHON, run } from "./helpers";

const SECRET = "s3cret-identity-key-for-tests";

/** What supportflow.identity.tokens.verify_identity_token makes of a token. */
async function verifyInPython(token: string, secrets: string[]): Promise<Record<string, unknown>> {
  const script = [
    "import json, sys",
    "from supportflow.identity.tokens import InvalidIdentityToken, verify_identity_token",
    "try:",
    "    c = verify_identity_token(sys.argv[1], json.loads(sys.argv[2]))",
    "    print(json.dumps({'email': c.email, 'sub': c.sub, 'expires_at': c.expires_at}))",
    "except InvalidIdentityToken as err:",
    "    print(json.dumps({'invalid': str(err)}))",
  ].join("\n");
  const out = await run(PYTHON, ["-c", script, token, JSON.stringify(secrets)]);
  assert.equal(out.code, 0, out.stderr);
  return JSON.parse(out.stdout) as Record<string, unknown>;
}

test("supportflow verifies a token signed here, with its claims", async () => {
  const now = Math.floor(Date.now() / 1000);
  const token = signIdentityToken(SECRET, {
    email: "Ada@Example.com",
    sub: "cust_1001",
    ttlSeconds: 600,
    now,
  });
  assert.deepEqual(await verifyInPython(token, ["old-secret", SECRET]), {
    email: "ada@example.com",
    sub: "cust_1001",
    expires_at: now + 600,
  });
});

test("supportflow refuses a token signed with another secret, or expired", async () => {
  const forged = signIdentityToken("not-the-secret", { sub: "cust_1001" });
  assert.deepEqual(await verifyInPython(forged, [SECRET]), {
    invalid: "identity token signature does not match",
  });
  const old = signIdentityToken(SECRET, { sub: "cust_1001", ttlSeconds: 60, now: 1_000_000 });
  assert.deepEqual(await verifyInPython(old, [SECRET]), { invalid: "identity token has expired" });
});

test("tokens supportflow would refuse are not signed at all", () => {
  assert.throws(() => signIdentityToken(SECRET, {}), /needs an email or a sub/);
  assert.throws(
    () => signIdentityToken(SECRET, { sub: "c", ttlSeconds: 24 * 3600 + 1 }),
    /ttlSeconds must be a whole number from 1 to 86400/,
  );
  assert.throws(() => signIdentityToken(SECRET, { email: "no-at-sign" }), /email must be/);
  assert.throws(() => signIdentityToken("", { sub: "c" }), /identity secret/);
});
