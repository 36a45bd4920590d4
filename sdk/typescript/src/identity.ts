// Identity tokens: the HS256 JWT a merchant's server signs for a logged-in shopper, exactly
// as supportflow verifies it (src/supportflow/identity/tokens.py): claims iat, exp and at
// least one of email and sub, signed with the tenant's identity secret; no audience, no
// issuer; a lifetime of at most 24 hours.
import { createHmac } from "node:crypto";

export const MAX_LIFETIME_SECONDS = 24 * 3600;

export interface IdentityClaimsIn {
  /** The shopper's email address, as the store knows it. */
  email?: string;
  /** The store's own customer id. */
  sub?: string;
  /** Lifetime in seconds: 1 to 86400 (supportflow refuses longer-lived tokens). */
  ttlSeconds?: number;
  /** Issued-at, seconds since the epoch; now by default. */
  now?: number;
}

function base64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** A token for ``identity_token`` of a chat message. The secret never leaves this call. */
export function signIdentityToken(secret: string, claims: IdentityClaimsIn): string {
  const { email, sub, ttlSeconds = 3600 } = claims;
  if (!secret) throw new Error("an identity token needs the tenant's identity secret");
  if (!email && !sub) throw new Error("an identity token needs an email or a sub");
  if (email !== undefined && (!email.includes("@") || email.length > 320)) {
    throw new Error("email must be an address of at most 320 characters");
  }
  if (sub !== undefined && (!sub.trim() || sub.length > 200)) {
    throw new Error("sub must be 1 to 200 characters");
  }
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_LIFETIME_SECONDS) {
    throw new Error(`ttlSeconds must be a whole number from 1 to ${MAX_LIFETIME_SECONDS}`);
  }
  const iat = Math.floor(claims.now ?? Date.now() / 1000);
  const payload: Record<string, string | number> = { iat, exp: iat + ttlSeconds };
  if (email) payload.email = email;
  if (sub) payload.sub = sub;
  const signingInput = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(
    JSON.stringify(payload),
  )}`;
  const signature = createHmac("sha256", secret).update(signingInput).digest("base64url");
  return `${signingInput}.${signature}`;
}
