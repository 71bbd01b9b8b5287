// End-to-end (issue #5, "Done when" 6): the pages no other e2e test checks with axe-core +
// screenshots, and the pages that only had the looser field check. Each page goes through
// lib/a11y.mjs's checkPageA11y: axe-core (no serious or critical violations), the strict
// form-field check (label + the standard autocomplete token) and full-page screenshots at
// 1280 and 375 px as e2e/artifacts/more-*.png.
//
//   - error.html: /authorize with an unknown client and with an unregistered redirect URI,
//     /logout with an unregistered post_logout_redirect_uri;
//   - setup_invalid.html: the first-run /setup link opened again after use;
//   - register.html error state (bad mobile number) and register_closed.html for a used, a
//     revoked and an unknown invitation link;
//   - the vendor's first-sign-in wizard with passkeys offered (a CDP virtual authenticator),
//     push enrolment (setup_push, push_not_yet, push_wait confirming), then home.html for a
//     signed-in non-administrator;
//   - push sign-in pages: push_wait (approve the sign-in) and push_ended (denied);
//   - consent.html (an app created with --consent-required) and form_post.html
//     (response_mode=form_post; its auto-submit script, /static/form_post.js, is replaced by
//     an empty script for that page with page.route, so the page stays to be checked; then
//     the test clicks Continue and the app's callback receives the POST);
//   - /device, its error state, device_confirm.html and device_done.html ("Device connected");
//   - /signin/step-up without and with a passkey, /account/passkeys (empty and with one);
//   - /signin/code with a passkey offered (the administrator after adding a passkey);
//   - /logout (the confirmation) and logout_done.html.
//
// One server, one administrator (bootstrapped through the setup link) and one vendor
// (invited, registered, wizard with push); the tests run in order and share that state.
// Findings are collected per test and asserted at its end, so one run reports all of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { freePort, startTessera } from '../lib/server.mjs';
import { startSmsReceiver, startSmtpSink } from '../lib/sinks.mjs';
import { ARTIFACTS_DIR, launchBrowser } from '../lib/browser.mjs';
import { checkPageA11y } from '../lib/a11y.mjs';
import { pageText, signIn } from '../lib/signin.mjs';
import { tesseraCli } from '../lib/docs_portal.mjs';
import { describeRun, startAuthenticator } from '../lib/authenticator.mjs';
import * as totp from '../lib/totp.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591230002',
};
const ADMIN_PASSWORD = 'correct horse battery staple 42';

const VENDOR_EMAIL = 'mo.vendor@vendor.example.com';
const VENDOR = {
  username: 'movendor',
  given_name: 'Mo',
  family_name: 'Vendor',
  department: 'Digital Services Division',
  mobile: '98765432',
};
const VENDOR_E164 = '+6598765432';
const VENDOR_PASSWORD = 'Amber kettles whistle 8 over meadows';
const REVOKED_EMAIL = 'rey.revoked@vendor.example.com';

const MESSAGE_WAIT_MS = 15_000;
const MOVE_ON_MS = 15_000;

// ---------------------------------------------------------------- helpers

const pathOf = (page) => new URL(page.url()).pathname;
const field = (page, name) => page.locator(`form [name="${name}"]`);
const button = (page, name) => page.getByRole('button', { name, exact: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function clickAndWait(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

async function expectH1(page, expected) {
  const h1s = (await page.locator('h1').allInnerTexts()).map((t) => t.trim());
  const ok = h1s.some((t) => (expected instanceof RegExp ? expected.test(t) : t.includes(expected)));
  assert.ok(
    ok,
    `expected an <h1> matching ${expected instanceof RegExp ? expected : JSON.stringify(expected)} at ${page.url()}; ` +
      `found h1: ${JSON.stringify(h1s)}; page text: ${await pageText(page)}`,
  );
}

function expectPath(page, expected, what = '') {
  const actual = pathOf(page);
  const ok = expected instanceof RegExp ? expected.test(actual) : actual === expected;
  assert.ok(ok, `${what ? `${what}: ` : ''}expected URL path ${expected}, got ${page.url()}`);
}

async function expectStatus(page, response, expected, what) {
  assert.ok(response, `${what}: no navigation response`);
  assert.equal(
    response.status(),
    expected,
    `${what}: expected HTTP ${expected}, got ${response.status()} at ${page.url()}; page text: ${await pageText(page)}`,
  );
}

async function goto(page, url, status = 200, what = `GET ${url}`) {
  const res = await page.goto(url);
  await expectStatus(page, res, status, what);
  return res;
}

async function step(t, name, fn) {
  t.diagnostic(`step: ${name}`);
  try {
    return await fn();
  } catch (err) {
    if (err && typeof err.message === 'string') err.message = `[step: ${name}] ${err.message}`;
    throw err;
  }
}

const tail = (text, lines = 60) => text.split('\n').slice(-lines).join('\n');

function addressedTo(message, address) {
  const want = address.toLowerCase();
  return message.to.toLowerCase().includes(want) || message.envelopeTo.some((r) => r.toLowerCase() === want);
}

function watchContext(context, sink) {
  context.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
      sink.push(`CSP violation on ${msg.page()?.url()}: ${msg.text()}`);
    }
  });
  context.on('weberror', (e) => sink.push(`uncaught page error on ${e.page()?.url()}: ${e.error().message}`));
}

/** Waits (through the page's own refreshes) until `predicate(page)` holds. */
async function waitUntil(page, predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  let lastError = null;
  for (;;) {
    try {
      if (await predicate(page)) return;
      lastError = null;
    } catch (err) {
      lastError = err; // a refresh between two reads: try again
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; at ${page.url()}; page text: ${await pageText(page)}` +
          `${lastError ? `; last error: ${lastError.message.split('\n')[0]}` : ''}`,
      );
    }
    await sleep(250);
  }
}

/** The push waiting page's challenge id (?c=) and number. */
async function readWaiting(page) {
  let found = null;
  await waitUntil(
    page,
    async (p) => {
      if (pathOf(p) !== '/signin/push') return false;
      const c = new URL(p.url()).searchParams.get('c');
      const el = p.locator('#push-number');
      if (!c || (await el.count()) !== 1) return false;
      found = { id: c, number: Number((await el.textContent({ timeout: 1_000 })).trim()) };
      return true;
    },
    MOVE_ON_MS,
    'the push waiting page with a number (#push-number)',
  );
  return found;
}

/** A CDP virtual passkey authenticator on `page` (presence simulation off until asked). */
async function virtualAuthenticator(context, page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true },
  });
  const presence = (enabled) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
  await presence(false);
  return { cdp, authenticatorId, presence };
}

/** An OAuth authorization request URL for `client_id` (PKCE, state and nonce). */
function authorizeUrl(clientId, extra = {}) {
  const u = new URL(`${S.baseUrl}/authorize`);
  const params = {
    client_id: clientId,
    redirect_uri: S.callback.redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    state: `st-${Date.now()}`,
    nonce: `n-${Date.now()}`,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
    ...extra,
  };
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

/** The apps' callback: records every request (method, URL, form body). */
async function startCallback() {
  const port = await freePort();
  const hits = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      if (req.url.startsWith('/callback')) hits.push({ method: req.method, url: `http://localhost:${port}${req.url}`, body });
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html lang="en"><title>Callback</title><h1>Callback</h1></html>');
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    redirectUri: `http://localhost:${port}/callback`,
    hits,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// ------------------------------------------------------------------ shared state

const S = {
  smtp: null,
  sms: null,
  server: null,
  browser: null,
  callback: null,
  phone: null,
  baseUrl: '',
  apps: {},
  adminContext: null,
  admin: null,
  vendorContext: null,
  vendor: null, // the vendor's page, with a virtual authenticator
  vendorAuth: null,
  registrationUrl: '',
  revokedUrl: '',
  initialPassword: '',
  vendorActive: false,
  pageProblems: [],
  checked: [],
  minor: [],
};

async function newContext() {
  const context = await S.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(20_000);
  watchContext(context, S.pageProblems);
  return context;
}

/** Per-test checker (checkPageA11y); findings go to `a11y`. */
function checker(a11y) {
  return async (p, name, options) => {
    const full = `more-${name}`;
    S.checked.push(`${full} ${pathOf(p)}`);
    try {
      const { minor } = await checkPageA11y(p, full, options);
      S.minor.push(...minor);
    } catch (err) {
      a11y.push(err.message);
    }
  };
}

/**
 * The push waiting page refreshes itself every 2 s (Refresh header), which would interrupt
 * axe and the screenshots; it is checked in a second tab of the same context (same flow
 * cookie) whose copy of the page has the Refresh header taken out.
 */
async function checkWaitingCopy(checkPage, p, name) {
  const copy = await p.context().newPage();
  try {
    await copy.route((url) => url.pathname === '/signin/push', async (route) => {
      const response = await route.fetch({ maxRedirects: 0 });
      const headers = { ...response.headers() };
      delete headers.refresh;
      await route.fulfill({ response, headers });
    });
    await goto(copy, p.url(), 200, `GET ${p.url()} (copy for checks)`);
    assert.equal(await copy.locator('#push-number').count(), 1, `the copy shows the number; ${await pageText(copy)}`);
    await checkPage(copy, name);
  } finally {
    await copy.close();
  }
}

/** Runs a test body with its own findings list, asserted at the end; adds diagnostics on failure. */
async function withChecks(t, name, body) {
  const a11y = [];
  const problemsBefore = S.pageProblems.length;
  let current = null;
  const track = (p) => {
    current = p;
    return p;
  };
  try {
    await body(checker(a11y), track);
    assert.deepEqual(S.pageProblems.slice(problemsBefore), [], 'pages reported CSP violations or script errors');
    assert.ok(a11y.length === 0, `${a11y.length} accessibility / form-field finding(s):\n${a11y.join('\n\n')}`);
  } catch (err) {
    if (current) {
      try {
        const file = path.join(ARTIFACTS_DIR, `failure-more-${name}.png`);
        await current.screenshot({ path: file, fullPage: true });
        t.diagnostic(`failure screenshot: ${file} (at ${current.url()})`);
      } catch {
        // ignore
      }
    }
    if (err && typeof err.message === 'string') {
      if (a11y.length && !err.message.includes('accessibility / form-field finding')) {
        err.message += `\n--- accessibility findings so far (${a11y.length}) ---\n${a11y.join('\n\n')}`;
      }
      if (S.phone) err.message += `\n--- authenticator runs ---\n${S.phone.log.slice(-10).join('\n')}`;
      if (S.sms) err.message += `\n--- SMS received (${S.sms.messages.length}) ---\n${S.sms.messages.map(S.sms.describe).join('\n')}`;
      if (S.server) err.message += `\n--- last server output ---\n${tail(S.server.output(), 40)}`;
    }
    throw err;
  }
}

// ------------------------------------------------------------------ setup

before(async () => {
  S.smtp = await startSmtpSink();
  S.sms = await startSmsReceiver({ path: '/sms' });
  S.server = await startTessera({
    env: {
      TESSERA_SMTP_URL: `smtp://127.0.0.1:${S.smtp.port}`,
      TESSERA_SMS_WEBHOOK_URL: `http://127.0.0.1:${S.sms.port}/sms`,
    },
  });
  S.baseUrl = S.server.baseUrl;
  S.callback = await startCallback();
  S.phone = await startAuthenticator();
  S.browser = await launchBrowser();

  S.adminContext = await newContext();
  S.admin = await S.adminContext.newPage();
  const page = S.admin;
  await goto(page, S.server.setupUrl);
  for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
  await field(page, 'password').fill(ADMIN_PASSWORD);
  await field(page, 'password_confirm').fill(ADMIN_PASSWORD);
  await clickAndWait(page, button(page, 'Create administrator'));
  expectPath(page, '/signin', 'after creating the administrator');
  await signIn(page, S.baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false });

  // The apps, registered with the CLI on the server's own database.
  const cli = (args) => tesseraCli(S.server, args);
  const app = async (...args) => {
    const out = await cli(['admin', '--json', 'app', 'create', '--tenant', 'agency', ...args]);
    const parsed = JSON.parse(out);
    assert.ok(parsed.client_id, `app create: ${out}`);
    return parsed;
  };
  await cli(['admin', 'tenant', 'create', '--slug', 'agency', '--name', 'Agency']);
  const rp = ['--redirect-uri', S.callback.redirectUri];
  S.apps.plain = await app('--name', 'Plain reports', ...rp, '--post-logout-redirect-uri', `${new URL(S.callback.redirectUri).origin}/`);
  S.apps.consent = await app('--name', 'Third-party planner', ...rp, '--consent-required');
  S.apps.secure = await app('--name', 'Secure ledger', ...rp, '--require-phishing-resistant');
  S.apps.device = await app('--name', 'Meeting-room screen', '--public', '--grant', 'device_code');
});

after(async () => {
  if (S.checked.length) console.log(`# pages checked (${S.checked.length}):\n#   ${S.checked.join('\n#   ')}`);
  if (S.minor.length) console.log(`# moderate/minor axe findings (not blocking):\n#   ${S.minor.join('\n#   ')}`);
  if (S.browser) await S.browser.close();
  if (S.server) await S.server.stop();
  if (S.callback) await S.callback.close();
  if (S.smtp) await S.smtp.close();
  if (S.sms) await S.sms.close();
  if (S.phone) await S.phone.close();
});

// ------------------------------------------------------------------ tests

test('error pages: /authorize (unknown client, unregistered redirect), /logout (bad return), used /setup link', { timeout: 120_000 }, async (t) => {
  await withChecks(t, 'errors', async (checkPage, track) => {
    const context = await newContext();
    const page = track(await context.newPage());
    const { baseUrl } = S;

    await step(t, '/authorize with an unknown client_id: error.html (400)', async () => {
      await goto(page, authorizeUrl('no-such-client'), 400);
      await expectH1(page, 'This sign-in request is not valid');
      assert.match(await page.locator('.request-id code').innerText(), /\S/, 'a request ID is shown');
      await checkPage(page, 'error-authorize-unknown-client');
    });

    await step(t, '/authorize with a redirect_uri the app did not register: error.html (400)', async () => {
      await goto(page, authorizeUrl(S.apps.plain.client_id, { redirect_uri: 'https://evil.example.com/cb' }), 400);
      await expectH1(page, 'This sign-in request is not valid');
      await checkPage(page, 'error-authorize-bad-redirect');
    });

    await step(t, '/logout with an unregistered post_logout_redirect_uri: error.html (400)', async () => {
      const u = new URL(`${baseUrl}/logout`);
      u.searchParams.set('client_id', S.apps.plain.client_id);
      u.searchParams.set('post_logout_redirect_uri', 'https://evil.example.com/');
      await goto(page, u.toString(), 400);
      await expectH1(page, 'This sign-out request is not valid');
      await checkPage(page, 'error-logout-bad-return');
    });

    await step(t, 'a page that does not exist: error.html (404)', async () => {
      await goto(page, `${baseUrl}/no-such-page`, 404);
      await checkPage(page, 'error-404');
    });

    await step(t, 'the used first-run /setup link: setup_invalid.html (410)', async () => {
      await goto(page, S.server.setupUrl, 410);
      await expectH1(page, 'This setup link is no longer valid');
      assert.equal(await field(page, 'password').count(), 0, 'no setup form');
      await checkPage(page, 'setup-invalid');
    });
    await context.close();
  });
});

test('registration: error state (strict check), then used, revoked and unknown invitation links (register_closed)', { timeout: 120_000 }, async (t) => {
  await withChecks(t, 'register', async (checkPage, track) => {
    const { baseUrl } = S;
    const admin = track(S.admin);

    const linkFor = async (email) => {
      const mail = await S.smtp.waitFor(
        (m) => addressedTo(m, email) && /\/register\?token=/.test(m.body),
        MESSAGE_WAIT_MS,
        `the invitation email to ${email}`,
      );
      const link = mail.body.match(/https?:\/\/[^\s<>"]+\/register\?token=[A-Za-z0-9_-]+/)?.[0];
      assert.ok(link, `no registration link in the email body:\n${mail.body.slice(0, 2_000)}`);
      return link;
    };

    await step(t, 'the administrator invites the vendor and a second address', async () => {
      for (const email of [VENDOR_EMAIL, REVOKED_EMAIL]) {
        await goto(admin, `${baseUrl}/invitations`);
        await field(admin, 'email').fill(email);
        await clickAndWait(admin, button(admin, 'Send invitation'));
        const notices = (await admin.locator('.notice').allInnerTexts()).map((s) => s.trim());
        assert.ok(notices.includes('Invitation sent.'), `notices: ${JSON.stringify(notices)}; page text: ${await pageText(admin)}`);
      }
      S.registrationUrl = await linkFor(VENDOR_EMAIL);
      S.revokedUrl = await linkFor(REVOKED_EMAIL);
    });

    S.vendorContext = await newContext();
    S.vendor = track(await S.vendorContext.newPage());
    S.vendorAuth = await virtualAuthenticator(S.vendorContext, S.vendor);
    const page = S.vendor;

    await step(t, '/register with a bad mobile number: the error state', async () => {
      await goto(page, S.registrationUrl);
      await expectH1(page, 'Register for Tessera');
      await field(page, 'username').fill(VENDOR.username);
      await field(page, 'given_name').fill(VENDOR.given_name);
      await field(page, 'family_name').fill(VENDOR.family_name);
      await field(page, 'mobile_country').selectOption('+65');
      await field(page, 'mobile').fill('12ab');
      await field(page, 'department').fill(VENDOR.department);
      const res = await clickAndWait(page, button(page, 'Register'));
      await expectStatus(page, res, 422, 'registration with a bad mobile number');
      assert.equal(await page.locator('#mobile-error').count(), 1, `the mobile field's message; ${await pageText(page)}`);
      await checkPage(page, 'register-error');
    });

    await step(t, 'registration completes with a good number', async () => {
      await field(page, 'mobile').fill(VENDOR.mobile);
      const res = await clickAndWait(page, button(page, 'Register'));
      await expectStatus(page, res, 200, 'registration');
      await expectH1(page, 'Registration complete');
    });

    await step(t, 'the used link: register_closed.html (410, "has been used")', async () => {
      await goto(page, S.registrationUrl, 410);
      await expectH1(page, 'This invitation has been used');
      assert.match(await pageText(page), new RegExp(ADMIN.given_name), 'names the sponsor');
      await checkPage(page, 'register-closed-used');
    });

    await step(t, 'the administrator revokes the second invitation; its link: register_closed.html ("withdrawn")', async () => {
      track(admin);
      await goto(admin, `${baseUrl}/invitations`);
      await clickAndWait(admin, admin.getByRole('button', { name: `Revoke invitation to ${REVOKED_EMAIL}` }));
      track(page);
      await goto(page, S.revokedUrl, 410);
      await expectH1(page, 'This invitation was withdrawn');
      await checkPage(page, 'register-closed-revoked');
    });

    await step(t, 'an unknown token: register_closed.html ("does not work")', async () => {
      await goto(page, `${baseUrl}/register?token=not-a-real-invitation-token`, 410);
      await expectH1(page, 'This link does not work');
      await checkPage(page, 'register-closed-unknown');
    });

    S.initialPassword = await step(t, 'the initial password arrives by SMS', async () => {
      const message = await S.sms.waitFor(
        (m) => m.to === VENDOR_E164 && /initial password/i.test(m.body),
        MESSAGE_WAIT_MS,
        `the SMS to ${VENDOR_E164} with the initial password`,
      );
      const password = message.body.match(/initial password is\s+(\S+)/i)?.[1]?.replace(/[.,;]$/, '');
      assert.ok(password, `initial password in ${JSON.stringify(message.body)}`);
      return password;
    });
  });
});

test('the vendor\'s wizard with passkeys offered, push enrolment pages, then home for a non-administrator', { timeout: 180_000 }, async (t) => {
  assert.ok(S.initialPassword, 'the vendor registered (previous test)');
  await withChecks(t, 'wizard', async (checkPage, track) => {
    const page = track(S.vendor);
    const { baseUrl } = S;

    await step(t, 'username and initial password reach /signin/setup/authenticator, passkey offered', async () => {
      await goto(page, `${baseUrl}/signin`);
      await field(page, 'username').fill(VENDOR.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(S.initialPassword);
      await clickAndWait(page, button(page, 'Sign in'));
      expectPath(page, '/signin/setup/authenticator');
      const passkeyForm = page.locator('form[data-passkey="register"]');
      await passkeyForm.waitFor({ state: 'visible' });
      assert.ok(await button(page, 'Set up a passkey instead').isVisible(), 'the passkey choice is shown');
      await checkPage(page, 'wizard-authenticator-passkey');
    });

    const uri = await step(t, '"Set up push approval instead": setup_push.html', async () => {
      await clickAndWait(page, page.getByRole('link', { name: 'Set up push approval instead', exact: true }));
      expectPath(page, '/signin/setup/push');
      await expectH1(page, 'Set up push approval');
      await checkPage(page, 'push-enrolment');
      return ((await page.locator('code#push-uri').textContent()) || '').trim();
    });

    await step(t, '"Next" before enrolling: push_not_yet.html', async () => {
      await clickAndWait(page, page.getByRole('link', { name: 'Next', exact: true }));
      await expectH1(page, 'Waiting for your app');
      await checkPage(page, 'push-not-yet');
    });

    await step(t, 'enrol, "Next": push_wait.html (confirming); approve', async () => {
      const r = await S.phone.enroll(uri, { name: 'Mo e2e phone' });
      assert.equal(r.code, 0, describeRun(r));
      await clickAndWait(page, page.getByRole('link', { name: 'Next', exact: true }));
      const { number } = await readWaiting(page);
      await expectH1(page, 'Confirm your authenticator');
      await checkWaitingCopy(checkPage, page, 'push-waiting-confirm');
      const ok = await S.phone.approve(number);
      assert.equal(ok.code, 0, describeRun(ok));
      await waitUntil(page, async (p) => pathOf(p) === '/signin/setup/phone', MOVE_ON_MS, '/signin/setup/phone');
    });

    await step(t, 'phone check and new password: signed in', async () => {
      const before = S.sms.messages.length;
      await clickAndWait(page, button(page, 'Send code'));
      const sms = await S.sms.waitFor(
        (m) => S.sms.messages.indexOf(m) >= before && m.to === VENDOR_E164 && /\b\d{6}\b/.test(m.body),
        MESSAGE_WAIT_MS,
        `the SMS code to ${VENDOR_E164}`,
      );
      await field(page, 'code').fill(sms.body.match(/\b(\d{6})\b/)[1]);
      await clickAndWait(page, button(page, 'Next'));
      expectPath(page, '/signin/setup/password');
      await field(page, 'current_password').fill(S.initialPassword);
      await field(page, 'new_password').fill(VENDOR_PASSWORD);
      await field(page, 'confirm_password').fill(VENDOR_PASSWORD);
      await clickAndWait(page, button(page, 'Next'));
      assert.ok(!pathOf(page).startsWith('/signin'), `the wizard should be done; at ${page.url()}; ${await pageText(page)}`);
      S.vendorActive = true;
    });

    await step(t, '/ for a signed-in non-administrator: home.html', async () => {
      await goto(page, `${baseUrl}/`);
      expectPath(page, '/');
      await expectH1(page, `Welcome, ${VENDOR.given_name}`);
      assert.equal(await page.locator('a[href="/admin"]').count(), 0, 'no administration link for a vendor');
      await checkPage(page, 'home-vendor');
    });
  });
});

test('push sign-in pages: waiting for approval, then denied after three wrong numbers', { timeout: 120_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is active (previous test)');
  await withChecks(t, 'push', async (checkPage, track) => {
    const context = await newContext();
    const page = track(await context.newPage());
    const { baseUrl } = S;

    const s = await step(t, 'username and password: push_wait.html ("Approve the sign-in")', async () => {
      await goto(page, `${baseUrl}/signin`);
      await field(page, 'username').fill(VENDOR.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(VENDOR_PASSWORD);
      await clickAndWait(page, button(page, 'Sign in'));
      const waiting = await readWaiting(page);
      await expectH1(page, 'Approve the sign-in');
      await checkWaitingCopy(checkPage, page, 'push-waiting');
      return waiting;
    });

    await step(t, 'three wrong numbers: push_ended.html ("The request was denied")', async () => {
      let n = 10;
      for (let i = 0; i < 3; i += 1, n += 1) {
        if (n === s.number) n += 1;
        const r = await S.phone.approve(n);
        assert.notEqual(r.code, 0, `a wrong number must fail: ${describeRun(r)}`);
      }
      await waitUntil(
        page,
        async (p) => (await p.locator('h1').allInnerTexts()).some((h) => h.includes('The request was denied')),
        MOVE_ON_MS,
        'the denied page',
      );
      await checkPage(page, 'push-denied');
    });
    await context.close();
  });
});

test('consent.html (--consent-required app) and form_post.html (response_mode=form_post)', { timeout: 120_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is signed in');
  await withChecks(t, 'oauth', async (checkPage, track) => {
    const page = track(S.vendor);
    const hits = S.callback.hits;

    await step(t, '/authorize for an app that asks for consent: consent.html; Allow', async () => {
      await goto(page, authorizeUrl(S.apps.consent.client_id));
      expectPath(page, '/authorize');
      await expectH1(page, 'Allow Third-party planner?');
      await checkPage(page, 'consent');
      const before = hits.length;
      await clickAndWait(page, button(page, 'Allow'));
      assert.ok(page.url().startsWith(S.callback.redirectUri), `back at the app; at ${page.url()}`);
      assert.ok(hits.length > before && new URL(hits.at(-1).url).searchParams.get('code'), `the app got a code: ${JSON.stringify(hits.at(-1))}`);
    });

    await step(t, 'response_mode=form_post: form_post.html (its auto-submit stubbed), then Continue POSTs the code', async () => {
      // form_post.js submits the form at once; for the checks it is answered with an empty
      // script, so the page stays. Continue then submits the same form by hand.
      const stub = (route) => route.fulfill({ status: 200, contentType: 'text/javascript', body: '// stubbed by the e2e test\n' });
      await page.route('**/static/form_post.js', stub);
      try {
        const state = `fp-${Date.now()}`;
        await goto(page, authorizeUrl(S.apps.plain.client_id, { response_mode: 'form_post', state }));
        expectPath(page, '/authorize');
        await expectH1(page, 'Returning to the application');
        assert.equal(await page.locator('#form-post').getAttribute('action'), S.callback.redirectUri, 'the form posts to the app');
        await checkPage(page, 'form-post');
        const before = hits.length;
        await clickAndWait(page, button(page, 'Continue'));
        const hit = hits.at(-1);
        assert.ok(hits.length > before && hit.method === 'POST', `the app got a POST: ${JSON.stringify(hit)}`);
        const form = new URLSearchParams(hit.body);
        assert.ok(form.get('code'), `a code in the POST body: ${hit.body}`);
        assert.equal(form.get('state'), state);
      } finally {
        await page.unroute('**/static/form_post.js', stub);
      }
    });

    await step(t, 'control: without the stub, form_post.html submits itself', async () => {
      const before = hits.length;
      // 'commit': the page's script submits the form before its load event.
      await page.goto(authorizeUrl(S.apps.plain.client_id, { response_mode: 'form_post' }), { waitUntil: 'commit' });
      await page.waitForURL((u) => u.toString().startsWith(S.callback.redirectUri), { timeout: 10_000 });
      await waitUntil(page, async () => hits.length > before, 5_000, 'the auto-submitted POST');
      assert.equal(hits.at(-1).method, 'POST');
    });
  });
});

test('/device (strict field check), its error state, device_confirm.html and device_done.html', { timeout: 120_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is signed in');
  await withChecks(t, 'device', async (checkPage, track) => {
    const page = track(S.vendor);
    const { baseUrl } = S;
    const started = await fetch(`${baseUrl}/device_authorization`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: S.apps.device.client_id, scope: 'openid profile' }),
    });
    const device = await started.json();
    assert.equal(started.status, 200, JSON.stringify(device));

    await step(t, '/device', async () => {
      await goto(page, device.verification_uri);
      await expectH1(page, 'Connect a device');
      await checkPage(page, 'device');
    });

    await step(t, '/device with a wrong code: the error state', async () => {
      await field(page, 'user_code').fill('BBBB-BBBB');
      await clickAndWait(page, button(page, 'Continue'));
      assert.match(await page.locator('.form-error').innerText(), /not valid/);
      await checkPage(page, 'device-error');
    });

    await step(t, 'the right code: device_confirm.html; Allow: device_done.html', async () => {
      await field(page, 'user_code').fill(device.user_code);
      await clickAndWait(page, button(page, 'Continue'));
      await expectH1(page, 'Allow this device?');
      await checkPage(page, 'device-confirm');
      await clickAndWait(page, button(page, 'Allow'));
      await expectH1(page, 'Device connected');
      await checkPage(page, 'device-done');
    });
  });
});

test('/signin/step-up (without, then with a passkey) and /account/passkeys (empty, then one)', { timeout: 120_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is signed in');
  await withChecks(t, 'passkeys', async (checkPage, track) => {
    const page = track(S.vendor);
    const { baseUrl } = S;
    const { presence } = S.vendorAuth;

    await step(t, 'an app requiring a passkey, no passkey yet: /signin/step-up ("no passkey yet")', async () => {
      await goto(page, authorizeUrl(S.apps.secure.client_id));
      expectPath(page, '/signin/step-up');
      await expectH1(page, 'Confirm with a passkey');
      assert.equal(await button(page, 'Use my passkey').count(), 0, 'no passkey to use yet');
      await checkPage(page, 'step-up-no-passkey');
    });

    await step(t, '/account/passkeys (empty), add one, /account/passkeys (one listed)', async () => {
      await goto(page, `${baseUrl}/account/passkeys`);
      await expectH1(page, 'Passkeys');
      await checkPage(page, 'account-passkeys-empty');
      await field(page, 'passkey-name').fill('Mo laptop');
      await presence(true);
      await clickAndWait(page, button(page, 'Add a passkey'));
      await presence(false);
      expectPath(page, '/account/passkeys');
      assert.match(await pageText(page), /Mo laptop/, await pageText(page));
      await checkPage(page, 'account-passkeys-one');
    });

    await step(t, 'the app again: /signin/step-up with "Use my passkey"; it returns to the app', async () => {
      await goto(page, authorizeUrl(S.apps.secure.client_id));
      expectPath(page, '/signin/step-up');
      assert.equal(await button(page, 'Use my passkey').count(), 1, 'the passkey button');
      await checkPage(page, 'step-up');
      await presence(true);
      await Promise.all([
        page.waitForURL((u) => u.toString().startsWith(S.callback.redirectUri), { timeout: 20_000 }),
        button(page, 'Use my passkey').click(),
      ]);
      await presence(false);
    });
  });
});

test('/signin/code with a passkey offered (the administrator, after adding a passkey)', { timeout: 120_000 }, async (t) => {
  await withChecks(t, 'code-passkey', async (checkPage, track) => {
    const page = track(S.admin);
    const { baseUrl } = S;
    const { presence } = await virtualAuthenticator(S.adminContext, page);

    await step(t, 'the administrator adds a passkey', async () => {
      await goto(page, `${baseUrl}/account/passkeys`);
      await field(page, 'passkey-name').fill('Ada laptop');
      await presence(true);
      await clickAndWait(page, button(page, 'Add a passkey'));
      await presence(false);
      assert.match(await pageText(page), /Ada laptop/, await pageText(page));
    });

    await step(t, 'sign out, username and password: /signin/code with "Use a passkey instead"', async () => {
      await clickAndWait(page, page.locator('form[action="/signout"] button').first());
      expectPath(page, '/signin');
      await field(page, 'username').fill(ADMIN.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(ADMIN_PASSWORD);
      await clickAndWait(page, button(page, 'Sign in'));
      expectPath(page, '/signin/code');
      await page.locator('form[data-passkey="authenticate"]').waitFor({ state: 'visible' });
      assert.ok(await button(page, 'Use a passkey instead').isVisible(), 'the passkey choice');
      await checkPage(page, 'signin-code-passkey');
      await field(page, 'code').fill(await totp.nextCode(baseUrl, ADMIN.username));
      await clickAndWait(page, button(page, 'Verify'));
      assert.ok(!pathOf(page).startsWith('/signin'), `signed in again; at ${page.url()}; ${await pageText(page)}`);
    });
  });
});

test('/logout: the confirmation, then logout_done.html', { timeout: 60_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is signed in');
  await withChecks(t, 'logout', async (checkPage, track) => {
    const page = track(S.vendor);
    const { baseUrl } = S;

    await step(t, '/logout asks first; Sign out: logout_done.html', async () => {
      await goto(page, `${baseUrl}/logout`);
      await expectH1(page, 'Sign out');
      await checkPage(page, 'logout');
      // The header has its own "Sign out" (/signout); this is the page's (/logout).
      const res = await clickAndWait(page, page.locator('main form[action="/logout"] button'));
      await expectStatus(page, res, 200, 'signing out');
      await expectH1(page, 'You are signed out');
      await checkPage(page, 'logout-done');
      assert.equal(await page.locator('.account-name').count(), 0, 'nobody is signed in any more');
    });
  });
});
