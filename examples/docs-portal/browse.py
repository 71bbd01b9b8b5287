"""A tiny scripted browser for smoke.sh: one cookie jar, redirects followed, forms
submitted with an Origin header (Tessera's CSRF check). Standard library only.

usage: browse.py <portal-url> <tessera-url> <username> <password>
Signs in from the portal's "Login with Tessera" link (answering Tessera's password,
authenticator-enrolment and code pages; codes computed from the key the page shows), prints
the portal's claims tables, checks the error pages, then signs out."""
import base64, hashlib, hmac, html, http.cookiejar, os, re, struct, sys, time
import urllib.error, urllib.parse, urllib.request
from html.parser import HTMLParser

portal, idp, username, password = sys.argv[1:5]
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def fetch(url, data=None, origin=None):
    req = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode() if data is not None else None)
    if origin:
        req.add_header("Origin", origin)
    try:
        with opener.open(req) as r:
            return r.status, r.geturl(), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.geturl(), e.read().decode()


class Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms, self.cur = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.cur = {"action": a.get("action", ""), "method": a.get("method", "get").lower(), "fields": {}}
            self.forms.append(self.cur)
        elif tag == "input" and self.cur is not None and a.get("name"):
            self.cur["fields"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.cur = None


def post_form(url, page, fill):
    p = Forms()
    p.feed(page)
    # The form that posts back to this page (a signed-in page also has the header's
    # "Sign out" form).
    here = urllib.parse.urlsplit(url).path
    posts = [f for f in p.forms if f["method"] == "post"]
    form = next((f for f in posts if urllib.parse.urlsplit(f["action"]).path == here), posts[0])
    fields = dict(form["fields"])
    fields.update({k: v for k, v in fill.items() if k in fields})
    return fetch(urllib.parse.urljoin(url, form["action"]), fields, origin=idp)


def totp(key, at=None):
    k = base64.b32decode(key.replace(" ", "").upper())
    counter = int((at or time.time()) // 30)
    h = hmac.new(k, struct.pack(">Q", counter), hashlib.sha1).digest()
    o = h[-1] & 15
    return "%06d" % ((struct.unpack(">I", h[o:o + 4])[0] & 0x7FFFFFFF) % 1000000)


def main_text(page):
    m = re.search(r"<main[^>]*>(.*)</main>", page, re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", m.group(1) if m else page))).strip()


def check(cond, what):
    if not cond:
        sys.exit("FAIL: " + what)


status, url, page = fetch(portal + "/")
check(status == 200 and "Login with Tessera" in page, "portal home has no login button")
print("GET %s/ -> %d, 'Login with Tessera' shown" % (portal, status))

status, url, page = fetch(portal + "/login")
key = os.environ.get("TOTP_KEY")  # the key of an already enrolled user
for _ in range(10):
    path = urllib.parse.urlsplit(url).path
    print("  at %s (%d)" % (url.split("?")[0], status))
    if url.startswith(portal):
        break
    if path == "/signin":
        status, url, page = post_form(url, page, {"username": username, "password": password})
    elif path == "/signin/password":
        status, url, page = post_form(url, page, {"password": password})
    elif path == "/signin/setup/authenticator":
        key = re.search(r'id="totp-key">([^<]+)<', page).group(1)
        print("  enrolling an authenticator; TOTP_KEY=%s for later runs" % key.replace(" ", ""))
        status, url, page = post_form(url, page, {"code": totp(key)})
    elif path == "/signin/code":
        check(key is not None, "asked for a code without a known key")
        status, url, page = post_form(url, page, {"code": totp(key, time.time() + 30)})
    else:
        sys.exit("FAIL: unexpected page %s (%d): %s" % (url, status, main_text(page)[:300]))
check(url.startswith(portal) and "Signed in as" in page, "not back at the portal signed in: " + main_text(page)[:300])
print("back at %s (%d):" % (url, status))
print("  " + main_text(re.search(r"<p>Signed in as.*?</p>", page, re.S).group(0)))
for caption, body in re.findall(r"<caption>(.*?)</caption>.*?<tbody>(.*?)</tbody>", page, re.S):
    print("  " + caption)
    for k, v in re.findall(r'<th scope="row"><code>(.*?)</code></th><td>(.*?)</td>', body):
        print("    %-22s %s" % (k, html.unescape(re.sub(r"<[^>]+>", "", v))[:100]))
check("<code>%s</code>" % username in page, "claims do not show the username")
check("preferred_username" in page and "userinfo endpoint" in page, "claims tables incomplete")

status, _, err = fetch(portal + "/callback?error=access_denied&error_description=The+user+declined&state=x")
check(status == 400 and "access_denied" in err and "The user declined" in err, "error page")
status, _, err = fetch(portal + "/callback?code=abc&state=forged")
check(status == 400 and "state_mismatch" in err, "forged state")
print("error pages: ?error=access_denied -> 400; forged state -> 400: " + main_text(err)[:140])

status, url, page = fetch(portal + "/logout", {})
print("POST /logout -> %s (%d): %s" % (url.split("?")[0], status, main_text(page)[:80]))
check(urllib.parse.urlsplit(url).path == "/logout", "not at Tessera's end_session_endpoint")
status, url, page = post_form(url, page, {})
print("confirmed sign-out -> %s (%d): %s" % (url, status, main_text(page)[:60]))
check(url == portal + "/" and "Login with Tessera" in page, "logout did not return to the portal")
status, url, _ = fetch(idp + "/")
print("Tessera / afterwards -> %s (signed out of Tessera too)" % url)
check("/signin" in url, "still signed in at Tessera")
print("OK")
