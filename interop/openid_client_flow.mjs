// Interop test: Tessera's OpenID Connect provider driven by openid-client v6 and jose.
//
// Run by interop/run.sh, which starts a server and passes, by environment:
//   TESSERA_ISSUER                e.g. http://localhost:18080
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, OIDC_REDIRECT_URI
//                                 a confidential app with authorization_code + refresh_token
//   MACHINE_CLIENT_ID, MACHINE_CLIENT_SECRET
//                                 a confidential app with client_credentials, scope reports.read
//   TEST_USERNAME, TEST_PASSWORD  the user who signs in (alice)
//   INTEROP_TOTP_STATE            a JSON file with the authenticator app's key and the last
//                                 time step used, written by authlib_flow.py (which runs first
//                                 and enrols alice's authenticator); optional
//
// The portal sign-in is identifier-first with a mandatory authenticator app: username and
// password (one POST, as scripts may), then the code from the authenticator app (TOTP,
// RFC 6238) — or, when none is enrolled yet, the enrolment with the key read from the page —
// then /signin/complete, which sets the session cookie.
//
// Prints one `ok - name` or `not ok - name: reason` line per check; exits 1 if any failed.
// A check whose prerequisite failed is reported as `not ok` too, so that the count of
// checks is the same on every run.

import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as client from 'openid-client';
import * as jose from 'jose';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) {
    console.error(`openid_client_flow: ${name} is not set`);
    process.exit(2);
  }
  return value;
};

const ISSUER = env('TESSERA_ISSUER').replace(/\/+$/, '');
const CLIENT_ID = env('OIDC_CLIENT_ID');
const CLIENT_SECRET = env('OIDC_CLIENT_SECRET');
const REDIRECT_URI = env('OIDC_REDIRECT_URI');
const MACHINE_ID = env('MACHINE_CLIENT_ID');
const MACHINE_SECRET = env('MACHINE_CLIENT_SECRET');
const USERNAME = env('TEST_USERNAME', 'alice');
const PASSWORD = env('TEST_PASSWORD');
const SCOPE = 'openid profile email offline_access';
const TOTP_STATE = process.env.INTEROP_TOTP_STATE;

let passed = 0;
let failed = 0;
const s = {}; // what earlier checks learned, for later ones

class Prerequisite extends Error {}

function need(...keys) {
  const missing = keys.filter((k) => !(k in s));
  if (missing.length) {
    throw new Prerequisite(`skipped: an earlier check did not produce ${missing.join(', ')}`);
  }
  return keys.map((k) => s[k]);
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

function describeError(e) {
  let text = `${e?.name ?? 'Error'}: ${e?.message ?? e}`;
  if (e?.code) text += ` [code ${e.code}]`;
  if (e?.error) text += ` [error ${e.error}${e.error_description ? `: ${e.error_description}` : ''}]`;
  if (e?.status) text += ` [HTTP ${e.status}]`;
  if (e?.cause && !(e instanceof Prerequisite)) {
    const cause = e.cause instanceof Error ? e.cause.message : JSON.stringify(e.cause);
    text += ` cause: ${String(cause).slice(0, 400)}`;
  }
  return text.replace(/\s*\n\s*/g, ' ');
}

async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed += 1;
    console.log(`not ok - ${name}: ${e instanceof Prerequisite ? e.message : describeError(e)}`);
  }
}

const insecure = { execute: [client.allowInsecureRequests] };

async function rawPost(url, user, password, form) {
  const resp = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(
        `${encodeURIComponent(user)}:${encodeURIComponent(password)}`,
      ).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    },
    body: new URLSearchParams(form),
    redirect: 'manual',
  });
  const text = await resp.text();
  return { status: resp.status, text, describe: `POST ${url} -> ${resp.status} ${JSON.stringify(text.slice(0, 400))}` };
}

// ---- the authenticator app (TOTP, RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) -----------

const TOTP_STEP_SECONDS = 30;
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The key as shown on the enrolment page: base32 in groups of 4 separated by spaces. */
function base32Key(text) {
  const bytes = [];
  let buffer = 0;
  let bits = 0;
  for (const c of text.toUpperCase().replace(/[\s=]/g, '')) {
    const v = BASE32.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${JSON.stringify(text)}`);
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

function totpCode(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

const authenticator = {
  load() {
    if (!TOTP_STATE || !existsSync(TOTP_STATE)) return null;
    const saved = JSON.parse(readFileSync(TOTP_STATE, 'utf8'));
    return saved.issuer === ISSUER && saved.username === USERNAME ? saved : null;
  },
  save(app) {
    if (TOTP_STATE) writeFileSync(TOTP_STATE, JSON.stringify(app));
  },
  enrol(keyText) {
    const app = { issuer: ISSUER, username: USERNAME, key: keyText, last_step: 0 };
    this.save(app);
    return app;
  },
  /**
   * A code the server accepts now and has not seen: the current step's, or the next one's
   * when the current was used (the server allows one step of drift; a used step is
   * refused). When the next step was used too, waits until the clock reaches it.
   */
  async nextCode(app) {
    const stepNow = () => Math.floor(Date.now() / 1000 / TOTP_STEP_SECONDS);
    let now = stepNow();
    while (app.last_step > now) {
      await new Promise((r) => setTimeout(r, (now + 1) * TOTP_STEP_SECONDS * 1000 - Date.now() + 50));
      now = stepNow();
    }
    const step = Math.max(now, app.last_step + 1);
    app.last_step = step;
    this.save(app);
    return totpCode(base32Key(app.key), step);
  },
};

/**
 * A minimal browser for the portal's forms: keeps cookies, sends same-origin headers on
 * POSTs (the forms are CSRF-protected) and does not follow redirects.
 */
class Portal {
  cookies = new Map();

  async request(method, path, form) {
    const headers = {};
    if (method === 'POST') {
      Object.assign(headers, {
        origin: ISSUER,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/x-www-form-urlencoded',
      });
    }
    if (this.cookies.size) {
      headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const resp = await fetch(`${ISSUER}${path}`, {
      method,
      headers,
      body: form ? new URLSearchParams(form) : undefined,
      redirect: 'manual',
    });
    for (const raw of resp.headers.getSetCookie()) {
      const [pair] = raw.split(';', 1);
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1);
      if (!value || /max-age=0|1970/i.test(raw)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const text = await resp.text();
    const location = resp.headers.get('location');
    return {
      status: resp.status,
      location,
      text,
      describe: `${method} ${path} -> ${resp.status}${location ? ` Location: ${location}` : ''} ${JSON.stringify(text.slice(0, 300))}`,
    };
  }
}

// --------------------------------------------------------------------------------------

await check('discovery: client.discovery() with the app credentials', async () => {
  const config = await client.discovery(new URL(ISSUER), CLIENT_ID, CLIENT_SECRET, undefined, insecure);
  client.enableNonRepudiationChecks(config);
  const meta = config.serverMetadata();
  assert(meta.issuer === ISSUER, `issuer ${meta.issuer} != ${ISSUER}`);
  assert(meta.supportsPKCE('S256'), 'metadata does not advertise PKCE S256');
  s.config = config;
  s.meta = meta;
});

await check('authorization URL: buildAuthorizationUrl (PKCE S256, nonce, state)', async () => {
  const [config] = need('config');
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const codeChallenge = await client.calculatePKCECodeChallenge(pkceCodeVerifier);
  const nonce = client.randomNonce();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: SCOPE,
    code_challenge: codeChallenge,
    code_challenge_method: 'S256',
    nonce,
    state,
  });
  assert(url.searchParams.get('client_id') === CLIENT_ID, `client_id missing in ${url}`);
  Object.assign(s, { authUrl: url, pkceCodeVerifier, nonce, state });
});

await check('portal sign-in: POST /signin (username and password) -> 303 to the authenticator step', async () => {
  const portal = new Portal();
  const r = await portal.request('POST', '/signin', { username: USERNAME, password: PASSWORD });
  assert(r.status === 303, r.describe);
  assert(portal.cookies.has('tessera_signin'), `no tessera_signin cookie: ${r.describe}`);
  assert(!portal.cookies.has('tessera_session'), 'a session before the second factor');
  assert(
    r.location === '/signin/code' || r.location === '/signin/setup/authenticator',
    `expected the authenticator code or its enrolment next: ${r.describe}`,
  );
  s.portal = portal;
  s.afterPassword = r.location;
});

await check('portal sign-in: authenticator app code (TOTP, RFC 6238; enrolled first if none) -> 303 /signin/complete', async () => {
  const [portal, afterPassword] = need('portal', 'afterPassword');
  let app;
  if (afterPassword === '/signin/setup/authenticator') {
    // No authenticator yet (authlib_flow.py did not enrol one): enrol it here.
    const page = await portal.request('GET', afterPassword);
    assert(page.status === 200, page.describe);
    const keyText = page.text.match(/<code class="secret-key" id="totp-key">([^<]*)<\/code>/)?.[1]?.trim();
    assert(keyText, `no #totp-key on the enrolment page: ${page.describe}`);
    app = authenticator.enrol(keyText);
  } else {
    app = authenticator.load();
    assert(app, `asked for the authenticator code but no key was saved in INTEROP_TOTP_STATE (${TOTP_STATE})`);
  }
  const r = await portal.request('POST', afterPassword, { code: await authenticator.nextCode(app) });
  assert(r.status === 303, r.describe);
  assert(r.location === '/signin/complete', r.describe);
  assert(!portal.cookies.has('tessera_session'), 'a session before /signin/complete');
  s.secondFactor = true;
});

await check('portal sign-in: GET /signin/complete -> 303 + tessera_session cookie', async () => {
  const [portal] = need('portal', 'secondFactor');
  const r = await portal.request('GET', '/signin/complete');
  assert(r.status === 303, r.describe);
  assert(r.location && !r.location.startsWith('/signin'), r.describe);
  const value = portal.cookies.get('tessera_session');
  assert(value, `no tessera_session cookie: ${r.describe}`);
  s.cookie = `tessera_session=${value}`;
});

await check('authorize: 303 to the redirect URI with code, state and iss', async () => {
  const [authUrl, cookie, state] = need('authUrl', 'cookie', 'state');
  const resp = await fetch(authUrl, { headers: { cookie }, redirect: 'manual' });
  assert(
    resp.status === 303 || resp.status === 302,
    `GET ${authUrl} -> ${resp.status} ${(await resp.text()).slice(0, 300)}`,
  );
  const location = resp.headers.get('location');
  assert(location?.startsWith(`${REDIRECT_URI}?`), `Location ${location}`);
  const cb = new URL(location);
  assert(cb.searchParams.get('code'), `no code in ${location}`);
  assert(cb.searchParams.get('state') === state, `state mismatch in ${location}`);
  assert(cb.searchParams.get('iss') === ISSUER, `iss ${cb.searchParams.get('iss')} != ${ISSUER}`);
  s.location = location;
});

await check('token: authorizationCodeGrant (PKCE, nonce, state, iss, ID token signature)', async () => {
  const [config, location, pkceCodeVerifier, nonce, state] = need(
    'config', 'location', 'pkceCodeVerifier', 'nonce', 'state',
  );
  const tokens = await client.authorizationCodeGrant(config, new URL(location), {
    pkceCodeVerifier,
    expectedNonce: nonce,
    expectedState: state,
    idTokenExpected: true,
  });
  assert(tokens.access_token, 'no access_token');
  assert(tokens.id_token, 'no id_token');
  assert(tokens.refresh_token, 'no refresh_token (offline_access was requested)');
  assert(tokens.token_type?.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`);
  s.tokens = tokens;
});

await check('id_token: claims() has iss, aud, sub, nonce, preferred_username', async () => {
  const [tokens, nonce] = need('tokens', 'nonce');
  const claims = tokens.claims();
  assert(claims, 'tokens.claims() returned nothing');
  assert(claims.iss === ISSUER, `iss ${claims.iss}`);
  const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  assert(aud.includes(CLIENT_ID), `aud ${JSON.stringify(claims.aud)}`);
  assert(typeof claims.sub === 'string' && claims.sub.length > 0, 'no sub');
  assert(claims.nonce === nonce, `nonce ${claims.nonce} != ${nonce}`);
  // The profile scope was requested; Tessera puts profile claims in the ID token.
  assert(claims.preferred_username === USERNAME, `preferred_username ${claims.preferred_username}`);
  s.sub = claims.sub;
});

await check('id_token: jose.jwtVerify against the JWKS (alg and kid present)', async () => {
  const [tokens, meta] = need('tokens', 'meta');
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: ISSUER,
    audience: CLIENT_ID,
  });
  assert(['RS256', 'ES256'].includes(protectedHeader.alg), `alg ${protectedHeader.alg}`);
  assert(protectedHeader.kid, 'ID token header has no kid');
  assert(payload.sub === s.sub, 'sub differs');
});

await check('userinfo: fetchUserInfo with the expected subject', async () => {
  const [config, tokens, sub] = need('config', 'tokens', 'sub');
  const info = await client.fetchUserInfo(config, tokens.access_token, sub);
  assert(info.sub === sub, `sub ${info.sub} != ${sub}`);
  assert(info.preferred_username === USERNAME, `preferred_username ${info.preferred_username}`);
  assert(info.email === 'alice@agency.gov.sg', `email ${info.email}`);
});

await check('refresh: refreshTokenGrant returns new tokens with a rotated refresh token', async () => {
  const [config, tokens] = need('config', 'tokens');
  const fresh = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert(fresh.access_token && fresh.access_token !== tokens.access_token, 'access token not renewed');
  assert(fresh.refresh_token && fresh.refresh_token !== tokens.refresh_token, 'refresh token not rotated');
  const claims = fresh.claims();
  if (claims) assert(claims.sub === s.sub, `refreshed ID token sub ${claims.sub} != ${s.sub}`);
  s.fresh = fresh;
});

await check('userinfo: the refreshed access token works', async () => {
  const [config, fresh, sub] = need('config', 'fresh', 'sub');
  const info = await client.fetchUserInfo(config, fresh.access_token, sub);
  assert(info.sub === sub, `sub ${info.sub} != ${sub}`);
});

// ---- client_credentials with the machine app --------------------------------------------

await check('client_credentials: clientCredentialsGrant (client_secret_basic, scope reports.read)', async () => {
  const machine = await client.discovery(
    new URL(ISSUER), MACHINE_ID, MACHINE_SECRET, client.ClientSecretBasic(MACHINE_SECRET), insecure,
  );
  const tokens = await client.clientCredentialsGrant(machine, { scope: 'reports.read' });
  assert(tokens.access_token, 'no access_token');
  assert(tokens.token_type?.toLowerCase() === 'bearer', `token_type ${tokens.token_type}`);
  assert(!tokens.refresh_token, 'client_credentials must not return a refresh token (RFC 6749 4.4.3)');
  s.machine = machine;
  s.machineToken = tokens.access_token;
});

await check('client_credentials: access token is an ES256 at+jwt (RFC 9068) for the machine app', async () => {
  const [machineToken, meta] = need('machineToken', 'meta');
  const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
  const { payload, protectedHeader } = await jose.jwtVerify(machineToken, jwks, {
    issuer: ISSUER,
    typ: 'at+jwt',
  });
  assert(protectedHeader.alg === 'ES256', `alg ${protectedHeader.alg}`);
  assert(payload.client_id === MACHINE_ID, `client_id ${payload.client_id} != ${MACHINE_ID}`);
  const scopes = String(payload.scope ?? '').split(' ');
  assert(scopes.includes('reports.read'), `scope ${payload.scope}`);
});

await check('introspect: POST /introspect (client_secret_basic) -> active: true', async () => {
  const [machineToken, meta] = need('machineToken', 'meta');
  const r = await rawPost(meta.introspection_endpoint, MACHINE_ID, MACHINE_SECRET, { token: machineToken });
  assert(r.status === 200, r.describe);
  const body = JSON.parse(r.text);
  assert(body.active === true, `not active: ${r.text}`);
  assert(body.client_id === undefined || body.client_id === MACHINE_ID, `client_id ${body.client_id}`);
});

await check('introspect: openid-client tokenIntrospection agrees', async () => {
  const [machine, machineToken] = need('machine', 'machineToken');
  const body = await client.tokenIntrospection(machine, machineToken);
  assert(body.active === true, `not active: ${JSON.stringify(body)}`);
});

await check('revoke: POST /revoke (client_secret_basic) -> 200', async () => {
  const [machineToken, meta] = need('machineToken', 'meta');
  const r = await rawPost(meta.revocation_endpoint, MACHINE_ID, MACHINE_SECRET, { token: machineToken });
  assert(r.status === 200, r.describe);
  s.revoked = true;
});

await check('introspect: after revocation -> active: false', async () => {
  const [machineToken, meta] = need('machineToken', 'meta', 'revoked');
  const r = await rawPost(meta.introspection_endpoint, MACHINE_ID, MACHINE_SECRET, { token: machineToken });
  assert(r.status === 200, r.describe);
  const body = JSON.parse(r.text);
  assert(body.active === false, `still active after revocation: ${r.text}`);
});

console.log(`# openid-client: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
