// End-to-end (issue #7, "Done when" 1): a platform administrator creates a tenant at
// /admin/tenants and names a tenant admin (a vendor invited and onboarded in this test);
// the tenant admin signs in and registers an app in the browser with the Docs portal's
// redirect URI (a bad registration first: the messages sit next to their fields), copies
// the client ID and the secret shown once; the example relying service (examples/
// docs-portal) runs with them and a person completes "Login with Tessera". Then the tenant
// admin rotates the secret with a 20-second overlap: inside it both secrets authenticate at
// /token, after it only the new one does, and the Docs portal restarted with the new secret
// signs in again. Every tenant page visited is checked with axe-core and the form-field
// check and screenshotted at 1280 and 375 px (e2e/artifacts/tenants-*.png).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { freePort, startTessera } from '../lib/server.mjs';
import { docsPortalCallback, startDocsPortal } from '../lib/docs_portal.mjs';
import { startSmsReceiver, startSmtpSink } from '../lib/sinks.mjs';
import { ARTIFACTS_DIR, checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { pageText, signIn } from '../lib/signin.mjs';
import * as totp from '../lib/totp.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591230001',
};
const ADMIN_PASSWORD = 'correct horse battery staple 42';

// The tenant admin: a vendor managing the Docs portal for the agency.
const TINA_EMAIL = 'tina.tan@vendor.example.com';
const TINA = {
  username: 'ttan',
  given_name: 'Tina',
  family_name: 'Tan',
  department: 'Docs platform team',
  mobile: '98761234',
};
const TINA_E164 = '+6598761234';
const TINA_PASSWORD = 'Amber kettles hum 9 quiet sonnets';

const TENANT = { slug: 'docs', name: 'Docs Agency' };
const APP_NAME = 'Docs portal';
const OVERLAP_SECONDS = 20;
const MESSAGE_WAIT_MS = 15_000;

// ---------------------------------------------------------------- helpers

const pathOf = (page) => new URL(page.url()).pathname;
const originOf = (url) => new URL(url).origin;
const field = (page, name) => page.locator(`form [name="${name}"]`);
const button = (page, name) => page.getByRole('button', { name, exact: true });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function clickAndWait(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

async function goto(page, url) {
  const res = await page.goto(url);
  await expectStatus(page, res, 200, `GET ${url}`);
  return res;
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

/** The text of the field's error message (#<id>-error), asserting it is shown. */
async function fieldError(page, id) {
  const el = page.locator(`#${id}-error`);
  assert.equal(await el.count(), 1, `expected the error message #${id}-error at ${page.url()}; page text: ${await pageText(page)}`);
  assert.ok(await el.isVisible(), `#${id}-error must be visible`);
  return (await el.innerText()).replace(/^Error:\s*/, '').trim();
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

function watchContext(context, sink) {
  context.on('console', (msg) => {
    if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
      sink.push(`CSP violation on ${msg.page()?.url()}: ${msg.text()}`);
    }
  });
  context.on('weberror', (webError) => {
    sink.push(`uncaught page error on ${webError.page()?.url()}: ${webError.error().message}`);
  });
}

function addressedTo(message, address) {
  const want = address.toLowerCase();
  return message.to.toLowerCase().includes(want) || message.envelopeTo.some((r) => r.toLowerCase() === want);
}

/**
 * What /token answers a made-up authorization code with, authenticating by
 * client_secret_basic: 400 invalid_grant means the secret was accepted (the code is what
 * failed), 401 invalid_client that it was not.
 */
async function tokenAnswer(baseUrl, clientId, secret, redirectUri) {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
  const res = await fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: 'not-a-code-tessera-issued',
      redirect_uri: redirectUri,
      code_verifier: 'a-verifier-for-a-code-that-was-never-issued-0123',
    }),
  });
  const body = await res.json();
  return `${res.status} ${body.error}`;
}

/** The claims table the Docs portal shows after a sign-in. */
async function portalClaims(page) {
  const claims = await page.evaluate(() => {
    const table = Array.from(document.querySelectorAll('table')).find(
      (tb) => tb.caption?.textContent.trim() === 'Validated ID token claims',
    );
    if (!table) return null;
    const out = {};
    for (const row of table.querySelectorAll('tbody tr')) {
      out[row.querySelector('th').textContent.trim()] = row.querySelector('td').textContent.trim();
    }
    return out;
  });
  assert.ok(claims, `no "Validated ID token claims" table on ${page.url()}; page text: ${await pageText(page)}`);
  return claims;
}

// ------------------------------------------------------------------ test

test(
  'tenants: the platform admin names a tenant admin, who registers an app; the Docs portal signs in with its secret; rotation with an overlap',
  { timeout: 600_000 },
  async (t) => {
    let smtp;
    let sms;
    let server;
    let portal;
    let browser;
    let page;
    const pageProblems = [];
    const checked = [];

    const checkPage = async (p, name) => {
      const full = `tenants-${name}`;
      checked.push(`${full} ${pathOf(p)}`);
      await checkAccessibility(p, full);
      await screenshots(p, full);
    };

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

      browser = await launchBrowser();
      const newContext = async () => {
        const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
        context.setDefaultTimeout(10_000);
        context.setDefaultNavigationTimeout(20_000);
        watchContext(context, pageProblems);
        return context;
      };
      const admin = await (await newContext()).newPage();
      const tina = await (await newContext()).newPage();

      // ------------------------------------------------ the platform administrator
      page = admin;
      await step(t, 'create the platform administrator through the setup link and sign in', async () => {
        await goto(admin, setupUrl);
        for (const [name, value] of Object.entries(ADMIN)) await field(admin, name).fill(value);
        await field(admin, 'password').fill(ADMIN_PASSWORD);
        await field(admin, 'password_confirm').fill(ADMIN_PASSWORD);
        await clickAndWait(admin, button(admin, 'Create administrator'));
        expectPath(admin, '/signin');
        // The sign-in pages are checked by onboarding.test.mjs.
        await signIn(admin, baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false });
      });

      await step(t, 'invite the future tenant admin at /invitations', async () => {
        await goto(admin, `${baseUrl}/invitations`);
        await field(admin, 'email').fill(TINA_EMAIL);
        await clickAndWait(admin, button(admin, 'Send invitation'));
        expectPath(admin, '/invitations');
      });

      // ------------------------------------------------ the tenant admin joins
      page = tina;
      await step(t, 'the invitee registers from the emailed link', async () => {
        const mail = await smtp.waitFor(
          (m) => addressedTo(m, TINA_EMAIL) && /\/register\?token=/.test(m.body),
          MESSAGE_WAIT_MS,
          `the invitation email to ${TINA_EMAIL}`,
        );
        const link = mail.body.match(/https?:\/\/[^\s<>"]+\/register\?token=[A-Za-z0-9_-]+/)?.[0];
        assert.ok(link, `a registration link in the email:\n${mail.body}`);
        await goto(tina, link);
        for (const name of ['username', 'given_name', 'family_name', 'department']) await field(tina, name).fill(TINA[name]);
        await field(tina, 'mobile_country').selectOption('+65');
        await field(tina, 'mobile').fill(TINA.mobile);
        const res = await clickAndWait(tina, button(tina, 'Register'));
        await expectStatus(tina, res, 200, 'registration');
        await expectH1(tina, 'Registration complete');
      });

      await step(t, 'first sign-in: initial password, authenticator, phone check, new password', async () => {
        const message = await sms.waitFor(
          (m) => m.to === TINA_E164 && /initial password/i.test(m.body),
          MESSAGE_WAIT_MS,
          `the SMS to ${TINA_E164} with the initial password`,
        );
        const initial = message.body.match(/initial password is\s+(\S+)/i)?.[1]?.replace(/[.,;]$/, '');
        assert.ok(initial, `initial password in ${JSON.stringify(message.body)}`);
        await goto(tina, `${baseUrl}/signin`);
        await field(tina, 'username').fill(TINA.username);
        await clickAndWait(tina, button(tina, 'Next'));
        await field(tina, 'password').fill(initial);
        await clickAndWait(tina, button(tina, 'Sign in'));
        expectPath(tina, '/signin/setup/authenticator');
        totp.remember(baseUrl, TINA.username, (await tina.locator('#totp-key').innerText()).trim());
        await field(tina, 'code').fill(await totp.nextCode(baseUrl, TINA.username));
        await clickAndWait(tina, button(tina, 'Next'));
        expectPath(tina, '/signin/setup/phone');
        const before = sms.messages.length;
        await clickAndWait(tina, button(tina, 'Send code'));
        const code = await sms.waitFor(
          (m) => sms.messages.indexOf(m) >= before && m.to === TINA_E164 && /\b\d{6}\b/.test(m.body),
          MESSAGE_WAIT_MS,
          `the SMS code to ${TINA_E164}`,
        );
        await field(tina, 'code').fill(code.body.match(/\b(\d{6})\b/)[1]);
        await clickAndWait(tina, button(tina, 'Next'));
        expectPath(tina, '/signin/setup/password');
        await field(tina, 'current_password').fill(initial);
        await field(tina, 'new_password').fill(TINA_PASSWORD);
        await field(tina, 'confirm_password').fill(TINA_PASSWORD);
        await clickAndWait(tina, button(tina, 'Next'));
        assert.ok(!pathOf(tina).startsWith('/signin'), `the wizard should be done; at ${tina.url()}; ${await pageText(tina)}`);
      });

      await step(t, 'before being named, the tenant admin administers nothing', async () => {
        await goto(tina, `${baseUrl}/tenant`);
        await expectH1(tina, 'Tenants you administer');
        assert.match(await pageText(tina), /You do not administer any tenant/);
        await checkPage(tina, 'list-empty');
        const res = await tina.goto(`${baseUrl}/tenant/${TENANT.slug}`);
        assert.equal(res.status(), 404, 'a tenant that does not exist (yet) is not found');
      });

      // ------------------------------------------------ the tenant
      page = admin;
      await step(t, 'the platform admin creates the tenant at /admin/tenants', async () => {
        await goto(admin, `${baseUrl}/admin/tenants`);
        await field(admin, 'slug').fill(TENANT.slug);
        await field(admin, 'name').fill(TENANT.name);
        const res = await clickAndWait(admin, button(admin, 'Create tenant'));
        await expectStatus(admin, res, 200, 'creating the tenant');
        expectPath(admin, `/admin/tenants/${TENANT.slug}`);
        await expectH1(admin, TENANT.name);
      });

      await step(t, 'and names the tenant admin', async () => {
        await field(admin, 'username').fill(TINA.username);
        const res = await clickAndWait(admin, button(admin, 'Add tenant admin'));
        await expectStatus(admin, res, 200, 'adding the tenant admin');
        expectPath(admin, `/admin/tenants/${TENANT.slug}`);
        const text = await pageText(admin, 6_000);
        assert.ok(text.includes(TINA.username) || text.includes(TINA_EMAIL), `the tenant admin is listed; page text: ${text}`);
      });

      // ------------------------------------------------ the tenant admin registers an app
      page = tina;
      const portalPort = await freePort();
      const redirectUri = docsPortalCallback(portalPort);
      const app = {};

      await step(t, 'the tenant admin finds the tenant from "My account"', async () => {
        await goto(tina, `${baseUrl}/account`);
        await clickAndWait(tina, tina.getByRole('link', { name: 'Tenants you administer', exact: true }));
        expectPath(tina, '/tenant');
        await clickAndWait(tina, tina.getByRole('link', { name: TENANT.name, exact: true }));
        expectPath(tina, `/tenant/${TENANT.slug}`);
        await expectH1(tina, TENANT.name);
        const text = await pageText(tina, 4_000);
        assert.ok(text.includes('This tenant has no apps yet.'), `empty app list; page text: ${text}`);
        assert.ok(text.includes(TINA_EMAIL), `the tenant admins are listed with their email; page text: ${text}`);
        await checkPage(tina, 'home-empty');
      });

      await step(t, 'a bad registration: the messages sit next to their fields, the input is kept', async () => {
        await clickAndWait(tina, tina.getByRole('link', { name: 'Register an app', exact: true }));
        expectPath(tina, `/tenant/${TENANT.slug}/apps/new`);
        await expectH1(tina, 'Register an app');
        await checkPage(tina, 'app-new');
        await field(tina, 'description').fill('Guides for agency developers');
        await field(tina, 'redirect_uri').fill('http://example.com/callback');
        const res = await clickAndWait(tina, button(tina, 'Register app'));
        await expectStatus(tina, res, 422, 'registering without a name and with a plain-http redirect URI');
        assert.match(await fieldError(tina, 'name'), /name/i, 'the name message');
        assert.match(await fieldError(tina, 'redirect_uri'), /plain http is allowed only for localhost/, 'the redirect URI message');
        assert.equal(await field(tina, 'description').inputValue(), 'Guides for agency developers', 'the description is kept');
        assert.equal(await field(tina, 'redirect_uri').inputValue(), 'http://example.com/callback', 'the redirect URI is kept');
        assert.equal(await tina.locator('#client-secret').count(), 0, 'no secret for a refused registration');
        await checkPage(tina, 'app-new-error');
      });

      await step(t, 'the registration with the Docs portal\'s redirect URI shows the secret once', async () => {
        await field(tina, 'name').fill(APP_NAME);
        await field(tina, 'redirect_uri').fill(redirectUri);
        await field(tina, 'post_logout_redirect_uri').fill(`http://localhost:${portalPort}/`);
        assert.ok(await tina.locator('#kind-confidential').isChecked(), 'confidential is the default');
        const res = await clickAndWait(tina, button(tina, 'Register app'));
        await expectStatus(tina, res, 200, 'registering the app');
        await expectH1(tina, APP_NAME);
        assert.match(await pageText(tina, 4_000), /Copy it now; it will not be shown again/);
        app.clientId = (await tina.locator('#client-id').innerText()).trim();
        app.secret = (await tina.locator('#client-secret').innerText()).trim();
        assert.match(app.clientId, /^[A-Za-z0-9_-]{16,}$/, 'a client ID');
        assert.match(app.secret, /^[A-Za-z0-9_-]{20,}$/, 'a client secret');
        assert.ok(!tina.url().includes(app.secret), 'the secret is never in a URL');
        await checkPage(tina, 'app-secret');
        // The app's own page (from the tenant home) does not show it again.
        await goto(tina, `${baseUrl}/tenant/${TENANT.slug}`);
        await clickAndWait(tina, tina.getByRole('link', { name: APP_NAME, exact: true }));
        app.path = pathOf(tina);
        assert.match(app.path, new RegExp(`^/tenant/${TENANT.slug}/apps/[^/]+$`));
        assert.equal(await tina.locator('#client-secret').count(), 0, 'the secret is not shown again');
        assert.ok(!(await tina.content()).includes(app.secret), 'the secret is nowhere on the app page');
        assert.equal((await tina.locator('#client-id').innerText()).trim(), app.clientId);
        assert.match(await pageText(tina, 6_000), /No expiry/, 'the secret is listed without expiry');
        await checkPage(tina, 'app');
      });

      await step(t, 'the app\'s access rules and a group (pages checked)', async () => {
        await clickAndWait(tina, tina.getByRole('link', { name: `Change who may use ${APP_NAME}`, exact: true }));
        expectPath(tina, `${app.path}/access`);
        await expectH1(tina, `Who may use ${APP_NAME}`);
        assert.ok(await tina.locator('#audience-everyone').isChecked(), 'a new app admits every active user');
        await checkPage(tina, 'app-access');
        await goto(tina, `${baseUrl}/tenant/${TENANT.slug}/groups`);
        await field(tina, 'name').fill('Editors');
        await clickAndWait(tina, button(tina, 'Create group'));
        await expectH1(tina, 'Editors');
        await field(tina, 'username').fill(TINA.username);
        await clickAndWait(tina, button(tina, 'Add member'));
        assert.match(await pageText(tina, 4_000), new RegExp(TINA_EMAIL.replace(/\./g, '\\.')), 'the member is listed');
        await checkPage(tina, 'group');
        await goto(tina, `${baseUrl}/tenant/${TENANT.slug}/groups`);
        await checkPage(tina, 'groups');
      });

      await step(t, 'the secret authenticates at /token; a wrong one does not', async () => {
        assert.equal(await tokenAnswer(baseUrl, app.clientId, app.secret, redirectUri), '400 invalid_grant');
        assert.equal(await tokenAnswer(baseUrl, app.clientId, `${app.secret}x`, redirectUri), '401 invalid_client');
      });

      // ------------------------------------------------ the relying service
      const user = await (await newContext()).newPage();
      const loginAtPortal = async (what) => {
        await goto(user, `${portal.baseUrl}/`);
        await clickAndWait(user, user.getByRole('link', { name: 'Login with Tessera', exact: true }));
        // Signed in at Tessera already, the browser comes straight back with a code.
        if (originOf(user.url()) === baseUrl) {
          expectPath(user, '/signin', '"Login with Tessera" without a Tessera session');
          await signIn(user, baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false });
        }
        assert.equal(originOf(user.url()), portal.baseUrl, `${what}: back at the Docs portal; at ${user.url()}; ${await pageText(user)}`);
        const claims = await portalClaims(user);
        t.diagnostic(`${what}: ID token claims ${JSON.stringify(claims)}`);
        assert.equal(claims.preferred_username, ADMIN.username, 'preferred_username');
        assert.ok((claims.aud || '').includes(app.clientId), `aud ${claims.aud} is the app registered in the browser`);
        assert.equal(claims.iss, baseUrl, 'iss');
        return claims;
      };

      page = user;
      await step(t, 'the Docs portal, with the copied client ID and secret, signs a person in', async () => {
        portal = await startDocsPortal(server, { clientId: app.clientId, clientSecret: app.secret, port: portalPort });
        app.firstNonce = (await loginAtPortal('first sign-in')).nonce;
      });

      // ------------------------------------------------ rotation
      page = tina;
      let rotatedAt;
      await step(t, `the tenant admin rotates the secret with a ${OVERLAP_SECONDS}-second overlap`, async () => {
        await goto(tina, `${baseUrl}${app.path}`);
        await field(tina, 'overlap').fill(String(OVERLAP_SECONDS));
        await field(tina, 'overlap_unit').selectOption('seconds');
        const res = await clickAndWait(tina, button(tina, 'Rotate secret'));
        rotatedAt = Date.now();
        await expectStatus(tina, res, 200, 'rotating the secret');
        app.newSecret = (await tina.locator('#client-secret').innerText()).trim();
        assert.notEqual(app.newSecret, app.secret, 'a new secret');
        assert.match(await pageText(tina, 6_000), /Copy it now; it will not be shown again/);
        assert.match(await pageText(tina, 6_000), /No expiry/, 'the new secret has no expiry; the old one has its overlap end');
        await checkPage(tina, 'app-rotated');
      });

      await step(t, 'inside the overlap both secrets authenticate', async () => {
        assert.equal(await tokenAnswer(baseUrl, app.clientId, app.secret, redirectUri), '400 invalid_grant', 'the old secret');
        assert.equal(await tokenAnswer(baseUrl, app.clientId, app.newSecret, redirectUri), '400 invalid_grant', 'the new secret');
        assert.ok(Date.now() - rotatedAt < OVERLAP_SECONDS * 1000, 'the checks ran inside the overlap');
      });

      await step(t, 'after the overlap only the new secret authenticates', async () => {
        await sleep(Math.max(0, rotatedAt + (OVERLAP_SECONDS + 2) * 1000 - Date.now()));
        assert.equal(await tokenAnswer(baseUrl, app.clientId, app.secret, redirectUri), '401 invalid_client', 'the old secret');
        assert.equal(await tokenAnswer(baseUrl, app.clientId, app.newSecret, redirectUri), '400 invalid_grant', 'the new secret');
        await goto(tina, `${baseUrl}${app.path}`);
        assert.match(await pageText(tina, 6_000), /Expired/, 'the old secret is listed as expired');
      });

      page = user;
      await step(t, 'the Docs portal restarted with the new secret signs in again', async () => {
        await portal.stop();
        portal = await startDocsPortal(server, { clientId: app.clientId, clientSecret: app.newSecret, port: portalPort });
        const claims = await loginAtPortal('after the rotation');
        assert.notEqual(claims.nonce, app.firstNonce, 'a new sign-in (a new ID token), redeemed with the new secret');
      });

      t.diagnostic(`pages checked (${checked.length}): ${checked.join('; ')}`);
      assert.deepEqual(pageProblems, [], 'pages reported CSP violations or script errors');
    } catch (err) {
      if (page) {
        try {
          const file = path.join(ARTIFACTS_DIR, 'failure-tenants.png');
          await page.screenshot({ path: file, fullPage: true });
          t.diagnostic(`failure screenshot: ${file} (at ${page.url()})`);
        } catch {
          // ignore
        }
      }
      if (err && typeof err.message === 'string') {
        if (pageProblems.length) err.message += `\n--- page problems ---\n${pageProblems.join('\n')}`;
        if (smtp) err.message += `\n--- emails received (${smtp.messages.length}) ---\n${smtp.messages.map(smtp.describe).join('\n')}`;
        if (sms) err.message += `\n--- SMS received (${sms.messages.length}) ---\n${sms.messages.map(sms.describe).join('\n')}`;
        if (portal) err.message += `\n--- last Docs portal output ---\n${tail(portal.output(), 30)}`;
        if (server) err.message += `\n--- last server output ---\n${tail(server.output())}`;
      }
      throw err;
    } finally {
      if (browser) await browser.close();
      if (portal) await portal.stop();
      if (server) await server.stop();
      if (smtp) await smtp.close();
      if (sms) await sms.close();
    }
  },
);
