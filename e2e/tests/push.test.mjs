// End-to-end (issue #6, "Done when" 1): push approval with number matching, in headless
// Chromium, answered by the reference authenticator (`tessera authenticator`, the real
// binary with a key file in a temporary directory, signing with the real clock).
//
// 1. A new vendor's first sign-in chooses "Set up push approval instead" on the
//    authenticator step; the test enrols with the link shown on the page, clicks Next,
//    reads the number the browser shows and approves it; the browser moves on to the phone
//    check; the wizard finishes (SMS code, new password; no policies published) and the
//    vendor is signed in.
// 2. A second sign-in (new browser context): username, password, and the browser shows a
//    number (push is preferred over the code). A wrong number is refused; the right one
//    signs in. Answering the same challenge again is refused (no longer open).
// 3. A third sign-in: three wrong numbers deny the request ("The request was denied");
//    "Send a new request" shows a new number; once that request has expired (60 s, real
//    time) approving it with the right number is refused and the browser shows "This
//    request expired".
//
// The number must never appear in `tessera authenticator list --json`. Each push page
// (enrolment, not-yet, waiting, denied, expired) is checked with axe-core (no serious or
// critical violations) and screenshotted at 1280 and 375 px (e2e/artifacts/push-*.png).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTessera } from '../lib/server.mjs';
import { startSmsReceiver, startSmtpSink } from '../lib/sinks.mjs';
import { ARTIFACTS_DIR, checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { pageText, signIn } from '../lib/signin.mjs';
import { describeRun, startAuthenticator } from '../lib/authenticator.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591230000',
};
const ADMIN_PASSWORD = 'correct horse battery staple 42';

const VENDOR_EMAIL = 'pia.pusher@vendor.example.com';
const VENDOR = {
  username: 'ppusher',
  given_name: 'Pia',
  family_name: 'Pusher',
  department: 'Digital Services Division',
  mobile: '98761234',
};
const VENDOR_E164 = '+6598761234';
const NEW_PASSWORD = 'Velvet compass gathers 9 quiet herons';

const MESSAGE_WAIT_MS = 15_000;
// The waiting page refreshes every 2 s; an answered request shows within a few refreshes.
const MOVE_ON_MS = 15_000;
// A challenge lives 60 s (real time); the page notices within 2 s of that.
const EXPIRY_WAIT_MS = 100_000;

// ---------------------------------------------------------------- helpers

const pathOf = (page) => new URL(page.url()).pathname;
const field = (page, name) => page.locator(`form [name="${name}"]`);
const button = (page, name) => page.getByRole('button', { name, exact: true });

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

async function step(t, name, fn) {
  t.diagnostic(`step: ${name}`);
  try {
    return await fn();
  } catch (err) {
    if (err && typeof err.message === 'string') err.message = `[step: ${name}] ${err.message}`;
    throw err;
  }
}

const tail = (text, lines = 80) => text.split('\n').slice(-lines).join('\n');

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
      // A refresh between two reads destroys the execution context: try again.
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; at ${page.url()}; ` +
          `page text: ${await pageText(page)}${lastError ? `; last error: ${lastError.message.split('\n')[0]}` : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The waiting page's challenge id (?c=) and number, read between two refreshes. */
async function readWaiting(page) {
  let found = null;
  await waitUntil(
    page,
    async (p) => {
      if (pathOf(p) !== '/signin/push') return false;
      const c = new URL(p.url()).searchParams.get('c');
      if (!c) return false;
      const el = p.locator('#push-number');
      if ((await el.count()) !== 1) return false;
      const text = (await el.textContent({ timeout: 1_000 })).trim();
      found = { c, text };
      return true;
    },
    MOVE_ON_MS,
    'the waiting page with a number (#push-number)',
  );
  assert.match(found.text, /^\d{2}$/, `the number shown should be two digits; got ${JSON.stringify(found.text)}`);
  return { id: found.c, number: Number(found.text) };
}

/** Waits until the page's <h1> shows `text` (the page refreshes itself meanwhile). */
function waitForH1(page, text, timeoutMs) {
  return waitUntil(
    page,
    async (p) => (await p.locator('h1').allInnerTexts()).some((h) => h.includes(text)),
    timeoutMs,
    `an <h1> containing ${JSON.stringify(text)}`,
  );
}

/** The header says who is signed in (base.html), or the page says nobody is. */
async function expectSignedIn(page, baseUrl, what) {
  const res = await page.goto(`${baseUrl}/`);
  assert.ok(res && res.status() === 200, `${what}: GET /: ${res?.status()}`);
  const name = (await page.locator('.account-name').allInnerTexts()).join(' ');
  assert.match(name, new RegExp(`Signed in as ${VENDOR.given_name}`), `${what}: at ${page.url()}; page text: ${await pageText(page)}`);
}

function wrongNumbers(right, count) {
  const out = [];
  for (let n = 10; out.length < count; n += 1) if (n !== right) out.push(n);
  return out;
}

/** Deep check: no key that names a number, and no value equal to the challenge's number. */
function assertNoNumber(json, number, what) {
  const walk = (v, at) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${at}[${i}]`));
    if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        assert.ok(!/number/i.test(k), `${what}: key ${at}.${k} looks like the number: ${JSON.stringify(json)}`);
        walk(x, `${at}.${k}`);
      }
      return undefined;
    }
    assert.ok(v !== number && v !== String(number), `${what}: the number ${number} appears at ${at}: ${JSON.stringify(json)}`);
    return undefined;
  };
  walk(json, '$');
}

// ------------------------------------------------------------------ test

test(
  'push approval with number matching: enrol in the wizard, approve, wrong number, denied after three, expired request',
  { timeout: 360_000 },
  async (t) => {
    let smtp;
    let sms;
    let server;
    let browser;
    let page;
    let phone;
    const pageProblems = [];
    const checked = [];

    try {
      smtp = await startSmtpSink();
      sms = await startSmsReceiver({ path: '/sms' });
      server = await step(t, 'start Tessera with the SMTP sink and the SMS webhook receiver', () =>
        startTessera({
          env: {
            TESSERA_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
            TESSERA_SMS_WEBHOOK_URL: `http://127.0.0.1:${sms.port}/sms`,
          },
        }),
      );
      const { baseUrl, setupUrl } = server;
      phone = await startAuthenticator();

      browser = await launchBrowser();
      const newContext = async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        context.setDefaultTimeout(10_000);
        context.setDefaultNavigationTimeout(20_000);
        watchContext(context, pageProblems);
        return context;
      };

      /** axe (no serious/critical) and screenshots of a static page. */
      const checkPage = async (p, name) => {
        checked.push(`push-${name} ${p.url()}`);
        await checkAccessibility(p, `push-${name}`);
        await screenshots(p, `push-${name}`);
      };
      /**
       * The waiting page refreshes itself every 2 s, which would interrupt axe and the
       * screenshots; so it is checked in a second tab of the same context (same flow
       * cookie) whose copy of the page has the Refresh header taken out. Looking at an open
       * challenge changes nothing.
       */
      const checkWaitingPage = async (p, name) => {
        const copy = await p.context().newPage();
        try {
          await copy.route((url) => url.pathname === '/signin/push', async (route) => {
            const response = await route.fetch({ maxRedirects: 0 });
            const headers = { ...response.headers() };
            delete headers.refresh;
            await route.fulfill({ response, headers });
          });
          const res = await copy.goto(p.url());
          await expectStatus(copy, res, 200, `GET ${p.url()} (copy for checks)`);
          expectPath(copy, '/signin/push');
          assert.equal(await copy.locator('#push-number').count(), 1, `the copy shows the number; ${await pageText(copy)}`);
          await checkPage(copy, name);
        } finally {
          await copy.close();
        }
      };

      // ------------------------------------------------ administrator, invitation, registration
      const adminContext = await newContext();
      page = await adminContext.newPage();
      await step(t, 'create the administrator and sign in', async () => {
        const res = await page.goto(setupUrl);
        await expectStatus(page, res, 200, `GET ${setupUrl}`);
        for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
        await field(page, 'password').fill(ADMIN_PASSWORD);
        await field(page, 'password_confirm').fill(ADMIN_PASSWORD);
        await clickAndWait(page, button(page, 'Create administrator'));
        expectPath(page, '/signin');
        await signIn(page, baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false, log: (l) => t.diagnostic(l) });
      });

      await step(t, 'invite the vendor', async () => {
        const res = await page.goto(`${baseUrl}/invitations`);
        await expectStatus(page, res, 200, 'GET /invitations');
        await field(page, 'email').fill(VENDOR_EMAIL);
        const sent = await clickAndWait(page, button(page, 'Send invitation'));
        await expectStatus(page, sent, 200, 'after "Send invitation"');
        const notices = (await page.locator('.notice').allInnerTexts()).map((s) => s.trim());
        assert.ok(notices.includes('Invitation sent.'), `notices: ${JSON.stringify(notices)}; page text: ${await pageText(page)}`);
      });
      await adminContext.close();

      const initialPassword = await step(t, 'the vendor registers through the emailed link', async () => {
        const mail = await smtp.waitFor(
          (m) => addressedTo(m, VENDOR_EMAIL) && /\/register\?token=/.test(m.body),
          MESSAGE_WAIT_MS,
          `the invitation email to ${VENDOR_EMAIL}`,
        );
        const link = mail.body.match(/https?:\/\/[^\s<>"]+\/register\?token=[A-Za-z0-9_-]+/)?.[0];
        assert.ok(link, `no registration link in the email body:\n${mail.body.slice(0, 2_000)}`);
        const context = await newContext();
        const p = await context.newPage();
        const res = await p.goto(link);
        await expectStatus(p, res, 200, `GET ${link}`);
        await field(p, 'username').fill(VENDOR.username);
        await field(p, 'given_name').fill(VENDOR.given_name);
        await field(p, 'family_name').fill(VENDOR.family_name);
        await field(p, 'mobile_country').selectOption('+65');
        await field(p, 'mobile').fill(VENDOR.mobile);
        await field(p, 'department').fill(VENDOR.department);
        const done = await clickAndWait(p, button(p, 'Register'));
        await expectStatus(p, done, 200, 'registration');
        await expectH1(p, 'Registration complete');
        await context.close();
        const message = await sms.waitFor(
          (m) => m.to === VENDOR_E164 && /initial password/i.test(m.body),
          MESSAGE_WAIT_MS,
          `the SMS to ${VENDOR_E164} with the initial password`,
        );
        const password = message.body.match(/initial password is\s+(\S+)/i)?.[1]?.replace(/[.,;]$/, '');
        assert.ok(password && password.length >= 8, `initial password in the SMS: ${JSON.stringify(message.body)}`);
        return password;
      });

      // ------------------------------------------------ 1. first sign-in: enrol push in the wizard
      const firstContext = await newContext();
      page = await firstContext.newPage();

      await step(t, 'first sign-in: username and initial password reach the authenticator step', async () => {
        const res = await page.goto(`${baseUrl}/signin`);
        await expectStatus(page, res, 200, 'GET /signin');
        await field(page, 'username').fill(VENDOR.username);
        await clickAndWait(page, button(page, 'Next'));
        expectPath(page, '/signin/password');
        await field(page, 'password').fill(initialPassword);
        await clickAndWait(page, button(page, 'Sign in'));
        expectPath(page, '/signin/setup/authenticator', 'a pending account starts the wizard');
        await expectH1(page, 'Set up your authenticator app');
      });

      const enrolmentUri = await step(t, 'choose "Set up push approval instead": the enrolment page', async () => {
        await clickAndWait(page, page.getByRole('link', { name: 'Set up push approval instead', exact: true }));
        expectPath(page, '/signin/setup/push');
        await expectH1(page, 'Set up push approval');
        assert.equal(await page.locator('figure.qr svg').count(), 1, 'the enrolment QR code is an inline SVG');
        await checkPage(page, 'enrolment');
        const uri = ((await page.locator('code#push-uri').textContent()) || '').trim();
        assert.match(uri, /^tessera-push:\/\/enroll\?server=[^&\s]+&token=[^&\s]+$/, `the enrolment link on the page: ${JSON.stringify(uri)}`);
        const server = new URL(uri.replace(/^tessera-push:/, 'http:')).searchParams.get('server');
        assert.equal(server.replace(/\/$/, ''), baseUrl, 'the enrolment link names this server');
        return uri;
      });

      await step(t, '"Next" before the app has enrolled: "Waiting for your app"', async () => {
        await clickAndWait(page, page.getByRole('link', { name: 'Next', exact: true }));
        expectPath(page, '/signin/setup/push/confirm');
        await expectH1(page, 'Waiting for your app');
        await checkPage(page, 'not-yet');
      });

      await step(t, '`tessera authenticator enroll <uri>` registers the device', async () => {
        const r = await phone.enroll(enrolmentUri, { name: 'Pia e2e phone' });
        assert.equal(r.code, 0, describeRun(r));
        assert.ok(r.json, `enroll --json output: ${describeRun(r)}`);
        assert.equal(r.json.username, VENDOR.username, `enrolled for the vendor: ${describeRun(r)}`);
        assert.ok(r.json.device_id, `a device id: ${describeRun(r)}`);
        // The link works once.
        const again = await phone.run(['enroll', enrolmentUri, '--force']);
        assert.notEqual(again.code, 0, `the enrolment link must be single-use: ${describeRun(again)}`);
        assert.match(again.output, /already used or has expired/, describeRun(again));
        // The original key file is still the one that was registered (the refused
        // --force run writes nothing: the token is checked first).
        const list = await phone.list();
        assert.equal(list.code, 0, `list after enrolling: ${describeRun(list)}`);
      });

      await step(t, 'Next: the browser shows a number; approving it moves on to the phone check', async () => {
        await clickAndWait(page, page.getByRole('link', { name: 'Next', exact: true }));
        const { id, number } = await readWaiting(page);
        t.diagnostic(`confirmation challenge ${id}, number ${number}`);
        await expectH1(page, 'Confirm your authenticator');
        await checkWaitingPage(page, 'waiting-confirm');

        const list = await phone.list();
        assert.equal(list.code, 0, describeRun(list));
        assert.ok(list.json && Array.isArray(list.json.challenges), `list --json: ${describeRun(list)}`);
        assert.deepEqual(list.json.challenges.map((c) => c.id), [id], `the open challenge is the page's: ${describeRun(list)}`);
        assertNoNumber(list.json, number, 'authenticator list --json (enrolment)');

        const r = await phone.approve(number);
        assert.equal(r.code, 0, describeRun(r));
        assert.equal(r.json?.status, 'approved', describeRun(r));
        assert.equal(r.json?.challenge_id, id, describeRun(r));

        await waitUntil(page, async (p) => pathOf(p) === '/signin/setup/phone', MOVE_ON_MS, 'the browser to move on to /signin/setup/phone');
        await expectH1(page, 'Verify your mobile number');
      });

      await step(t, 'finish the wizard: SMS code, new password; signed in', async () => {
        const before = sms.messages.length;
        const sent = await clickAndWait(page, button(page, 'Send code'));
        await expectStatus(page, sent, 200, '"Send code"');
        const message = await sms.waitFor(
          (m) => sms.messages.indexOf(m) >= before && m.to === VENDOR_E164 && /\b\d{6}\b/.test(m.body),
          MESSAGE_WAIT_MS,
          `the SMS code to ${VENDOR_E164}`,
        );
        await field(page, 'code').fill(message.body.match(/\b(\d{6})\b/)[1]);
        await clickAndWait(page, button(page, 'Next'));
        expectPath(page, '/signin/setup/password', 'the SMS code moves on to the password');

        await field(page, 'current_password').fill(initialPassword);
        await field(page, 'new_password').fill(NEW_PASSWORD);
        await field(page, 'confirm_password').fill(NEW_PASSWORD);
        await clickAndWait(page, button(page, 'Next'));
        // No policies are published, so that step is skipped and the sign-in completes.
        assert.ok(!pathOf(page).startsWith('/signin'), `after the wizard the vendor should be signed in; at ${page.url()}; page text: ${await pageText(page)}`);
        t.diagnostic(`signed in after the wizard at ${page.url()}`);
        await expectSignedIn(page, baseUrl, 'after the wizard');
      });
      await firstContext.close();

      /** A new context: username and password, then the push waiting page (preferred). */
      const signInToPush = async (what) => {
        const context = await newContext();
        const p = await context.newPage();
        const res = await p.goto(`${baseUrl}/signin`);
        await expectStatus(p, res, 200, `${what}: GET /signin`);
        await field(p, 'username').fill(VENDOR.username);
        await clickAndWait(p, button(p, 'Next'));
        expectPath(p, '/signin/password', what);
        await field(p, 'password').fill(NEW_PASSWORD);
        await clickAndWait(p, button(p, 'Sign in'));
        const waiting = await readWaiting(p);
        await expectH1(p, 'Approve the sign-in');
        return { context, page: p, ...waiting };
      };

      // ------------------------------------------------ 2. second sign-in: wrong, then right number
      await step(t, 'second sign-in: the browser shows a number; a wrong one is refused, the right one signs in', async () => {
        const s = await signInToPush('second sign-in');
        page = s.page;
        t.diagnostic(`second sign-in challenge ${s.id}, number ${s.number}`);
        await checkWaitingPage(page, 'waiting');

        const list = await phone.list();
        assert.equal(list.code, 0, describeRun(list));
        assert.deepEqual(list.json.challenges.map((c) => c.id), [s.id], `the open challenge: ${describeRun(list)}`);
        assert.equal(list.json.challenges[0].app_name, 'Tessera sign-in', describeRun(list));
        assertNoNumber(list.json, s.number, 'authenticator list --json (second sign-in)');

        const [wrong] = wrongNumbers(s.number, 1);
        const bad = await phone.approve(wrong);
        assert.notEqual(bad.code, 0, `a wrong number must fail: ${describeRun(bad)}`);
        assert.match(bad.output, /wrong number/i, describeRun(bad));
        assert.match(bad.stderr, /2 tries left/, describeRun(bad));
        assert.equal(bad.json?.status, 'wrong_number', describeRun(bad));

        // The browser still waits, with the same number.
        await page.waitForTimeout(2_500);
        const still = await readWaiting(page);
        assert.deepEqual(still, { id: s.id, number: s.number }, 'after a wrong number the same request stays open');

        const ok = await phone.approve(s.number);
        assert.equal(ok.code, 0, describeRun(ok));
        assert.equal(ok.json?.status, 'approved', describeRun(ok));
        await waitUntil(page, async (p) => !pathOf(p).startsWith('/signin'), MOVE_ON_MS, 'the browser to leave the sign-in pages');
        t.diagnostic(`second sign-in landed at ${page.url()}`);
        await expectSignedIn(page, baseUrl, 'after approving the second sign-in');

        // Signed in: the sign-in page no longer asks (an active session skips it), and the
        // answered challenge cannot be answered again.
        const replay = await phone.approve(s.number, { challenge: s.id });
        assert.notEqual(replay.code, 0, `answering an approved challenge again must fail: ${describeRun(replay)}`);
        assert.match(replay.output, /no longer open/, describeRun(replay));
        await s.context.close();
      });

      // ------------------------------------------------ 3. third sign-in: denied, then expired
      const third = await step(t, 'third sign-in: three wrong numbers deny the request', async () => {
        const s = await signInToPush('third sign-in');
        page = s.page;
        t.diagnostic(`third sign-in challenge ${s.id}, number ${s.number}`);
        const wrongs = wrongNumbers(s.number, 3);
        const expected = [/2 tries left/, /1 try left/, /no tries left, the sign-in is denied/];
        for (const [i, n] of wrongs.entries()) {
          const r = await phone.approve(n);
          assert.notEqual(r.code, 0, `wrong number ${i + 1} must fail: ${describeRun(r)}`);
          assert.match(r.output, /wrong number/i, describeRun(r));
          assert.match(r.stderr, expected[i], describeRun(r));
        }
        await waitForH1(page, 'The request was denied', MOVE_ON_MS);
        expectPath(page, '/signin/push');
        await checkPage(page, 'denied');

        // The right number no longer helps.
        const late = await phone.approve(s.number, { challenge: s.id });
        assert.notEqual(late.code, 0, `the denied request cannot be approved: ${describeRun(late)}`);
        assert.match(late.output, /no longer open/, describeRun(late));
        return s;
      });

      await step(t, '"Send a new request" shows a new number; once expired it cannot be approved', async () => {
        await clickAndWait(page, page.getByRole('link', { name: 'Send a new request', exact: true }));
        const fresh = await readWaiting(page);
        t.diagnostic(`new challenge ${fresh.id}, number ${fresh.number}`);
        assert.notEqual(fresh.id, third.id, 'a new request');
        await expectH1(page, 'Approve the sign-in');

        const list = await phone.list();
        assert.equal(list.code, 0, describeRun(list));
        assert.deepEqual(list.json.challenges.map((c) => c.id), [fresh.id], `only the new challenge is open: ${describeRun(list)}`);
        assertNoNumber(list.json, fresh.number, 'authenticator list --json (new request)');
        const expiresAt = Date.parse(list.json.challenges[0].expires_at);
        const createdAt = Date.parse(list.json.challenges[0].created_at);
        assert.ok(expiresAt - createdAt <= 61_000, `the challenge lives a minute: ${describeRun(list)}`);
        t.diagnostic(`waiting for the challenge to expire at ${new Date(expiresAt).toISOString()} (${Math.round((expiresAt - Date.now()) / 1000)} s)`);

        await waitForH1(page, 'This request expired', EXPIRY_WAIT_MS);
        expectPath(page, '/signin/push');
        assert.ok(Date.now() >= expiresAt - 1_000, `the page said expired before ${new Date(expiresAt).toISOString()}`);

        const r = await phone.approve(fresh.number, { challenge: fresh.id });
        assert.notEqual(r.code, 0, `approving an expired challenge must fail: ${describeRun(r)}`);
        assert.match(r.output, /no longer open/, describeRun(r));
        const after = await phone.list();
        assert.equal(after.code, 0, describeRun(after));
        assert.deepEqual(after.json.challenges, [], `no open challenge after expiry: ${describeRun(after)}`);

        // Reloading still shows the expired request: the late approval did not sign in.
        const res = await page.reload();
        await expectStatus(page, res, 200, 'reloading the expired request');
        await expectH1(page, 'This request expired');
        await checkPage(page, 'expired');
        assert.equal(await page.locator('.account-name').count(), 0, 'the third browser is not signed in');
      });

      t.diagnostic(`push pages checked (${checked.length}): ${checked.join('; ')}`);
      assert.deepEqual(pageProblems, [], 'pages reported CSP violations or script errors');
    } catch (err) {
      if (page) {
        try {
          const file = path.join(ARTIFACTS_DIR, 'failure-push.png');
          await page.screenshot({ path: file, fullPage: true });
          t.diagnostic(`failure screenshot: ${file} (at ${page.url()})`);
        } catch {
          // ignore
        }
      }
      if (err && typeof err.message === 'string') {
        if (pageProblems.length) err.message += `\n--- page problems ---\n${pageProblems.join('\n')}`;
        if (phone) err.message += `\n--- authenticator runs ---\n${phone.log.join('\n')}`;
        if (sms) err.message += `\n--- SMS received (${sms.messages.length}) ---\n${sms.messages.map(sms.describe).join('\n')}`;
        if (server) err.message += `\n--- last server output ---\n${tail(server.output())}`;
      }
      throw err;
    } finally {
      if (browser) await browser.close();
      if (server) await server.stop();
      if (smtp) await smtp.close();
      if (sms) await sms.close();
      if (phone) await phone.close();
    }
  },
);
