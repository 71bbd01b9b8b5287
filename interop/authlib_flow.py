#!/usr/bin/env python3
"""Interop test: Tessera's OpenID Connect provider driven by Python's authlib.

Run by interop/run.sh, which starts a server and passes, by environment:
  TESSERA_ISSUER           e.g. http://localhost:18080
  AUTHLIB_CLIENT_ID        a confidential app with authorization_code + refresh_token
  AUTHLIB_CLIENT_SECRET
  AUTHLIB_REDIRECT_URI     the redirect URI registered for that app
  TEST_USERNAME            the user who signs in (alice)
  TEST_PASSWORD
  INTEROP_TOTP_STATE       a JSON file for the authenticator app's key and the last time
                           step used, shared with openid_client_flow.mjs (optional)

The portal sign-in is identifier-first with a mandatory authenticator app: username and
password (one POST, as scripts may), then, on the first sign-in, the authenticator
enrolment (the key read from the page, a TOTP code per RFC 6238), then /signin/complete,
which sets the session cookie.

Prints one `ok - name` or `not ok - name: reason` line per check; exits 1 if any failed.
A check whose prerequisite failed is reported as `not ok` too, so that the count of
checks is the same on every run.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import struct
import sys
import time
import traceback
import warnings
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

# authlib 1.x warns that authlib.jose will move to joserfc; the API still works until 2.0.
warnings.filterwarnings("ignore", message=".*authlib.jose module is deprecated.*")
from authlib.jose import JsonWebKey, jwt  # noqa: E402 - after the filter above
from authlib.oidc.core import CodeIDToken  # noqa: E402

ISSUER = os.environ["TESSERA_ISSUER"].rstrip("/")
CLIENT_ID = os.environ["AUTHLIB_CLIENT_ID"]
CLIENT_SECRET = os.environ["AUTHLIB_CLIENT_SECRET"]
REDIRECT_URI = os.environ["AUTHLIB_REDIRECT_URI"]
USERNAME = os.environ.get("TEST_USERNAME", "alice")
PASSWORD = os.environ["TEST_PASSWORD"]
SCOPE = "openid profile email offline_access"
TIMEOUT = 15

passed = 0
failed = 0
state = {}  # what earlier checks learned, for later ones


class Prerequisite(Exception):
    pass


def need(*keys):
    missing = [k for k in keys if k not in state]
    if missing:
        raise Prerequisite("skipped: an earlier check did not produce " + ", ".join(missing))
    return [state[k] for k in keys]


def check(name):
    def run(fn):
        global passed, failed
        try:
            fn()
        except Prerequisite as e:
            failed += 1
            print(f"not ok - {name}: {e}", flush=True)
        except AssertionError as e:
            failed += 1
            print(f"not ok - {name}: {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - any error fails the check, with detail
            failed += 1
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print(f"not ok - {name}: {detail}", flush=True)
        else:
            passed += 1
            print(f"ok - {name}", flush=True)
        return fn

    return run


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def describe(resp: requests.Response) -> str:
    body = resp.text
    if len(body) > 400:
        body = body[:400] + "…"
    location = resp.headers.get("Location")
    where = f" Location: {location}" if location else ""
    return f"{resp.request.method} {resp.request.url} -> {resp.status_code}{where} {body!r}"


# ---- the authenticator app (TOTP, RFC 6238: HMAC-SHA1, 30 s steps, 6 digits) --------------

TOTP_STEP_SECONDS = 30
TOTP_STATE = os.environ.get("INTEROP_TOTP_STATE")  # shared with openid_client_flow.mjs


def totp_code(secret: bytes, step: int) -> str:
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    binary = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{binary % 1_000_000:06d}"


def base32_key(text: str) -> bytes:
    """The key as shown on the enrolment page: base32 in groups of 4 separated by spaces."""
    compact = "".join(text.split()).upper()
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def authenticator_load():
    if TOTP_STATE and os.path.exists(TOTP_STATE):
        with open(TOTP_STATE, encoding="utf-8") as f:
            saved = json.load(f)
        if saved.get("issuer") == ISSUER and saved.get("username") == USERNAME:
            return saved
    return None


def authenticator_save(app):
    if TOTP_STATE:
        with open(TOTP_STATE, "w", encoding="utf-8") as f:
            json.dump(app, f)


def authenticator_enrol(key_text: str):
    app = {"issuer": ISSUER, "username": USERNAME, "key": key_text, "last_step": 0}
    authenticator_save(app)
    return app


def authenticator_next_code(app) -> str:
    """A code the server accepts now and has not seen: the current step's, or the next
    one's when the current was used (the server allows one step of drift; a used step is
    refused). When the next step was used too, waits until the clock reaches it."""
    now = int(time.time()) // TOTP_STEP_SECONDS
    while app["last_step"] > now:
        time.sleep((now + 1) * TOTP_STEP_SECONDS - time.time() + 0.05)
        now = int(time.time()) // TOTP_STEP_SECONDS
    step = max(now, app["last_step"] + 1)
    app["last_step"] = step
    authenticator_save(app)
    return totp_code(base32_key(app["key"]), step)


class Portal:
    """A minimal browser for the portal's forms: keeps cookies by hand (host-only cookies
    on "localhost" are awkward for http.cookiejar), sends same-origin headers on POSTs (the
    forms are CSRF-protected) and does not follow redirects."""

    def __init__(self):
        self.cookies = {}

    def request(self, method: str, path: str, data=None) -> requests.Response:
        headers = {}
        if method == "POST":
            headers.update({"Origin": ISSUER, "Sec-Fetch-Site": "same-origin"})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        resp = requests.request(
            method, ISSUER + path, data=data, headers=headers, allow_redirects=False, timeout=TIMEOUT
        )
        for raw in resp.raw.headers.getlist("Set-Cookie"):
            name, _, rest = raw.partition("=")
            value = rest.split(";", 1)[0]
            attrs = raw.lower()
            if not value or "max-age=0" in attrs or "1970" in attrs:
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value
        return resp


# --------------------------------------------------------------------------------------


@check("discovery: /.well-known/openid-configuration")
def _():
    resp = requests.get(f"{ISSUER}/.well-known/openid-configuration", timeout=TIMEOUT)
    assert resp.status_code == 200, describe(resp)
    meta = resp.json()
    assert meta.get("issuer") == ISSUER, f"issuer {meta.get('issuer')!r} != {ISSUER!r}"
    for field in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        assert meta.get(field), f"metadata lacks {field}"
    assert "S256" in meta.get("code_challenge_methods_supported", []), "S256 not advertised"
    assert "client_secret_basic" in meta.get(
        "token_endpoint_auth_methods_supported", ["client_secret_basic"]
    ), "client_secret_basic not advertised"
    state["meta"] = meta


@check("jwks: fetch and import key set")
def _():
    (meta,) = need("meta")
    resp = requests.get(meta["jwks_uri"], timeout=TIMEOUT)
    assert resp.status_code == 200, describe(resp)
    jwks = resp.json()
    keyset = JsonWebKey.import_key_set(jwks)
    assert keyset.keys, "empty key set"
    state["keyset"] = keyset


@check("authorization URL built by OAuth2Session (PKCE S256, nonce, state)")
def _():
    (meta,) = need("meta")
    session = OAuth2Session(
        CLIENT_ID,
        CLIENT_SECRET,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )
    code_verifier = generate_token(48)
    nonce = generate_token(20)
    st = generate_token(20)
    url, returned_state = session.create_authorization_url(
        meta["authorization_endpoint"], state=st, code_verifier=code_verifier, nonce=nonce
    )
    assert returned_state == st
    q = parse_qs(urlsplit(url).query)
    assert q.get("code_challenge_method") == ["S256"], f"no S256 in {url}"
    expected_challenge = b64url(hashlib.sha256(code_verifier.encode("ascii")).digest())
    assert q.get("code_challenge") == [expected_challenge], "code_challenge mismatch"
    state.update(session=session, auth_url=url, code_verifier=code_verifier, nonce=nonce, st=st)


@check("portal sign-in: POST /signin (username and password) -> 303 to the authenticator enrolment")
def _():
    portal = Portal()
    resp = portal.request("POST", "/signin", {"username": USERNAME, "password": PASSWORD})
    assert resp.status_code == 303, describe(resp)
    assert "tessera_signin" in portal.cookies, f"no tessera_signin cookie: {describe(resp)}"
    assert "tessera_session" not in portal.cookies, "a session before the second factor"
    # alice has no authenticator yet: her first sign-in must enrol one.
    location = resp.headers.get("Location")
    assert location == "/signin/setup/authenticator", describe(resp)
    state["portal"] = portal


@check("portal sign-in: enrol the authenticator app (key from the page, RFC 6238 code) -> 303 /signin/complete")
def _():
    (portal,) = need("portal")
    page = portal.request("GET", "/signin/setup/authenticator")
    assert page.status_code == 200, describe(page)
    m = re.search(r'<code class="secret-key" id="totp-key">([^<]*)</code>', page.text)
    assert m, f"no #totp-key on the enrolment page: {describe(page)}"
    key_text = m.group(1).strip()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{1,4})+", key_text), f"key text {key_text!r}"
    app = authenticator_enrol(key_text)
    resp = portal.request("POST", "/signin/setup/authenticator", {"code": authenticator_next_code(app)})
    assert resp.status_code == 303, describe(resp)
    assert resp.headers.get("Location") == "/signin/complete", describe(resp)
    assert "tessera_session" not in portal.cookies, "a session before /signin/complete"
    state["enrolled"] = True


@check("portal sign-in: GET /signin/complete -> 303 + tessera_session cookie")
def _():
    portal, _ = need("portal", "enrolled")
    resp = portal.request("GET", "/signin/complete")
    assert resp.status_code == 303, describe(resp)
    location = resp.headers.get("Location", "")
    assert location and not location.startswith("/signin"), describe(resp)
    cookie = portal.cookies.get("tessera_session")
    assert cookie, f"no tessera_session cookie: {describe(resp)}"
    state["cookie"] = cookie


@check("authorize: 303 to the redirect URI with code, state and iss (RFC 9207)")
def _():
    auth_url, cookie, st, meta = need("auth_url", "cookie", "st", "meta")
    resp = requests.get(
        auth_url,
        headers={"Cookie": f"tessera_session={cookie}"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert resp.status_code in (302, 303), describe(resp)
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?"), f"Location {location!r}"
    q = parse_qs(urlsplit(location).query)
    assert "code" in q, f"no code in {location!r}"
    assert q.get("state") == [st], f"state {q.get('state')!r} != {st!r}"
    if meta.get("authorization_response_iss_parameter_supported"):
        assert q.get("iss") == [ISSUER], f"iss {q.get('iss')!r} != {ISSUER!r}"
    state["callback_url"] = location


@check("token: fetch_token (authorization_code, client_secret_basic, code_verifier)")
def _():
    session, callback_url, code_verifier, st, meta = need(
        "session", "callback_url", "code_verifier", "st", "meta"
    )
    token = session.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback_url,
        code_verifier=code_verifier,
        state=st,
    )
    for field in ("access_token", "id_token", "refresh_token", "token_type"):
        assert token.get(field), f"token response lacks {field}: {sorted(token)}"
    assert token["token_type"].lower() == "bearer", f"token_type {token['token_type']!r}"
    state["token"] = token


@check("id_token: signature (JWKS), iss and aud essential, claims.validate()")
def _():
    token, keyset = need("token", "keyset")
    claims_options = {
        "iss": {"essential": True, "value": ISSUER},
        "aud": {"essential": True, "value": CLIENT_ID},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
    }
    claims = jwt.decode(token["id_token"], keyset, claims_options=claims_options)
    claims.validate()
    assert claims.header.get("alg") in ("RS256", "ES256"), f"alg {claims.header.get('alg')!r}"
    aud = claims["aud"]
    if isinstance(aud, list) and len(aud) > 1:
        assert claims.get("azp") == CLIENT_ID, "several audiences but azp is not the client"
    state["id_claims"] = claims


@check("id_token: nonce equals the one sent")
def _():
    claims, nonce = need("id_claims", "nonce")
    assert claims.get("nonce") == nonce, f"nonce {claims.get('nonce')!r} != {nonce!r}"


@check("id_token: at_hash per OIDC Core 3.1.3.6")
def _():
    claims, token = need("id_claims", "token")
    alg = claims.header["alg"]
    hashfn = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[-3:]]
    digest = hashfn(token["access_token"].encode("ascii")).digest()
    expected = b64url(digest[: len(digest) // 2])
    assert "at_hash" in claims, "ID token from the token endpoint lacks at_hash"
    assert claims["at_hash"] == expected, f"at_hash {claims['at_hash']!r} != {expected!r}"


@check("id_token: authlib CodeIDToken validation (nonce, at_hash, auth_time)")
def _():
    token, keyset, nonce = need("token", "keyset", "nonce")
    claims = jwt.decode(
        token["id_token"],
        keyset,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": ISSUER}},
        claims_params={"nonce": nonce, "client_id": CLIENT_ID, "access_token": token["access_token"]},
    )
    claims.validate()


@check("userinfo: GET with bearer; sub matches, preferred_username == alice")
def _():
    session, claims, meta = need("session", "id_claims", "meta")
    resp = session.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    assert resp.status_code == 200, describe(resp)
    assert resp.request.headers.get("Authorization", "").startswith("Bearer "), "no bearer sent"
    info = resp.json()
    assert info.get("sub") == claims["sub"], f"userinfo sub {info.get('sub')!r} != {claims['sub']!r}"
    assert info.get("preferred_username") == USERNAME, f"preferred_username {info.get('preferred_username')!r}"
    assert info.get("email") == "alice@agency.gov.sg", f"email {info.get('email')!r}"


@check("refresh: refresh_token grant returns a new access token and a rotated refresh token")
def _():
    session, token, meta = need("session", "token", "meta")
    old_refresh = token["refresh_token"]
    new = session.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    assert new.get("access_token"), f"no access_token: {sorted(new)}"
    assert new["access_token"] != token["access_token"], "access token not renewed"
    assert new.get("refresh_token"), "no refresh_token in the refresh response"
    assert new["refresh_token"] != old_refresh, "refresh token not rotated"
    state["old_refresh"] = old_refresh
    state["new_token"] = new


@check("refresh: reusing the old refresh token fails with invalid_grant")
def _():
    old_refresh, meta = need("old_refresh", "meta")
    # A fresh session, so that nothing the library cached can help.
    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method="client_secret_basic")
    try:
        got = session.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    except Exception as e:  # noqa: BLE001 - authlib raises OAuthError
        error = getattr(e, "error", None)
        assert error == "invalid_grant", f"expected invalid_grant, got {type(e).__name__}: {e}"
    else:
        raise AssertionError(f"old refresh token was accepted again: {json.dumps(dict(got))[:200]}")
    state["reuse_detected"] = True


@check("refresh: after that reuse, the rotated refresh token is revoked too (RFC 9700 4.14.2)")
def _():
    new, meta, _ = need("new_token", "meta", "reuse_detected")
    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, token_endpoint_auth_method="client_secret_basic")
    try:
        got = session.refresh_token(meta["token_endpoint"], refresh_token=new["refresh_token"])
    except Exception as e:  # noqa: BLE001 - authlib raises OAuthError
        error = getattr(e, "error", None)
        assert error == "invalid_grant", f"expected invalid_grant, got {type(e).__name__}: {e}"
    else:
        raise AssertionError(f"the grant survived refresh token reuse: {sorted(got)}")


# ---- what must be refused ---------------------------------------------------------------


def authorize_again(code_verifier):
    """A second sign-in round trip with the same portal session; returns (callback URL, state)."""
    meta, cookie = need("meta", "cookie")
    session = OAuth2Session(
        CLIENT_ID, CLIENT_SECRET, scope=SCOPE, redirect_uri=REDIRECT_URI, code_challenge_method="S256"
    )
    url, st = session.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=code_verifier, nonce=generate_token(20)
    )
    resp = requests.get(
        url, headers={"Cookie": f"tessera_session={cookie}"}, allow_redirects=False, timeout=TIMEOUT
    )
    assert resp.status_code in (302, 303), describe(resp)
    return resp.headers["Location"], st


@check("token: response is Cache-Control: no-store (RFC 6749 5.1); a replayed code is invalid_grant (4.1.2)")
def _():
    (meta,) = need("meta")
    code_verifier = generate_token(48)
    callback, _st = authorize_again(code_verifier)
    code = parse_qs(urlsplit(callback).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": code_verifier,
    }
    first = requests.post(meta["token_endpoint"], data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT)
    assert first.status_code == 200, describe(first)
    assert "no-store" in first.headers.get("Cache-Control", ""), (
        f"Cache-Control {first.headers.get('Cache-Control')!r}"
    )
    again = requests.post(meta["token_endpoint"], data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=TIMEOUT)
    assert again.status_code == 400, describe(again)
    assert again.json().get("error") == "invalid_grant", describe(again)
    state["replayed_access_token"] = first.json()["access_token"]


@check("token: after a code replay, the tokens that code issued are revoked (RFC 6749 4.1.2, SHOULD)")
def _():
    access_token, meta = need("replayed_access_token", "meta")
    resp = requests.get(
        meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT
    )
    assert resp.status_code == 401, describe(resp)


@check("token: a wrong code_verifier is invalid_grant (RFC 7636 4.6)")
def _():
    (meta,) = need("meta")
    callback, st = authorize_again(generate_token(48))
    session = OAuth2Session(CLIENT_ID, CLIENT_SECRET, redirect_uri=REDIRECT_URI)
    try:
        got = session.fetch_token(
            meta["token_endpoint"], authorization_response=callback, code_verifier=generate_token(48), state=st
        )
    except Exception as e:  # noqa: BLE001 - authlib raises OAuthError
        error = getattr(e, "error", None)
        assert error == "invalid_grant", f"expected invalid_grant, got {type(e).__name__}: {e}"
    else:
        raise AssertionError(f"a wrong code_verifier was accepted: {sorted(got)}")


@check("userinfo: no token -> 401 with WWW-Authenticate: Bearer (RFC 6750 3)")
def _():
    (meta,) = need("meta")
    resp = requests.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    assert resp.status_code == 401, describe(resp)
    assert resp.headers.get("WWW-Authenticate", "").startswith("Bearer"), (
        f"WWW-Authenticate {resp.headers.get('WWW-Authenticate')!r}"
    )


print(f"# authlib: {passed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
