// Who is signed in. The token lives in memory only (never localStorage): a reload signs in
// again (with OIDC, the provider's session makes that one redirect). Only the PKCE verifier
// and state cross the redirect, in sessionStorage, and are removed when used.

export type ConsoleConfig =
  | { sign_in: "dev"; dev_users: string[] }
  | { sign_in: "oidc"; issuer: string; client_id: string; scope: string; resource?: string };

export type Session = { user: string; token: string; expiresAt?: number };

let session: Session | null = null;
const listeners = new Set<() => void>();

export function currentSession(): Session | null {
  return session;
}

export function setSession(s: Session | null) {
  session = s;
  listeners.forEach((l) => l());
}

export function onSessionChange(l: () => void): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const r = await fetch("/console/config.json", { cache: "no-store" });
  if (!r.ok) throw new Error(`the console's configuration: HTTP ${r.status}`);
  return (await r.json()) as ConsoleConfig;
}

/** Dev sign-in (the local stack only: the API accepts `dev:<user>` tokens in dev mode). */
export function devSignIn(user: string) {
  setSession({ user, token: `dev:${user}` });
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  bytes.forEach((b) => (s += String.fromCharCode(b)));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The PKCE S256 challenge of `verifier` (RFC 7636). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

function randomToken(): string {
  const b = new Uint8Array(32);
  crypto.getRandomValues(b);
  return base64url(b);
}

type Discovery = { authorization_endpoint: string; token_endpoint: string };

async function discover(issuer: string): Promise<Discovery> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const r = await fetch(url);
  if (!r.ok) throw new Error(`the provider's discovery (${url}): HTTP ${r.status}`);
  return (await r.json()) as Discovery;
}

const PENDING = "jit.oidc.pending";

/** Starts the authorization code flow with PKCE: the browser leaves for the provider. */
export async function oidcSignIn(cfg: Extract<ConsoleConfig, { sign_in: "oidc" }>, returnTo: string) {
  const d = await discover(cfg.issuer);
  const verifier = randomToken();
  const state = randomToken();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo }));
  const u = new URL(d.authorization_endpoint);
  u.searchParams.set("response_type", "code");
  u.searchParams.set("client_id", cfg.client_id);
  u.searchParams.set("redirect_uri", `${location.origin}/callback`);
  u.searchParams.set("scope", cfg.scope);
  u.searchParams.set("state", state);
  u.searchParams.set("code_challenge", await challengeOf(verifier));
  u.searchParams.set("code_challenge_method", "S256");
  if (cfg.resource) u.searchParams.set("resource", cfg.resource);
  location.assign(u.toString());
}

/** Back at /callback: trades the code for tokens; returns where to go next. */
export async function oidcCallback(cfg: Extract<ConsoleConfig, { sign_in: "oidc" }>): Promise<string> {
  const params = new URLSearchParams(location.search);
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  if (params.get("error")) {
    throw new Error(`the provider refused: ${params.get("error")} ${params.get("error_description") ?? ""}`);
  }
  if (!raw) throw new Error("no sign-in was in progress in this tab");
  const pending = JSON.parse(raw) as { verifier: string; state: string; returnTo: string };
  if (params.get("state") !== pending.state) throw new Error("the sign-in's state does not match");
  const code = params.get("code");
  if (!code) throw new Error("the provider sent no code");
  const d = await discover(cfg.issuer);
  const body = new URLSearchParams({
    grant_type: "authorization_code",
    code,
    redirect_uri: `${location.origin}/callback`,
    client_id: cfg.client_id,
    code_verifier: pending.verifier,
  });
  if (cfg.resource) body.set("resource", cfg.resource);
  const r = await fetch(d.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body,
  });
  const tok = (await r.json()) as { access_token?: string; expires_in?: number; error?: string; error_description?: string };
  if (!r.ok || !tok.access_token) {
    throw new Error(`the token exchange failed: ${tok.error ?? r.status} ${tok.error_description ?? ""}`);
  }
  const user = subjectOf(tok.access_token) ?? "unknown";
  setSession({
    user,
    token: tok.access_token,
    expiresAt: tok.expires_in ? Date.now() + tok.expires_in * 1000 : undefined,
  });
  return pending.returnTo || "/tickets";
}

/** The `sub` of a JWT (unverified: for display; the API verifies it). */
export function subjectOf(jwt: string): string | null {
  const parts = jwt.split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json) as { sub?: string };
    return claims.sub ?? null;
  } catch {
    return null;
  }
}
