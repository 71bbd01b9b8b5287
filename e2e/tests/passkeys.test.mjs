// End-to-end (issue #6, "Done when" 3 and 4): passkeys in headless Chromium with a CDP
// virtual authenticator (CTAP2, internal, resident keys, user verification), served at
// http://localhost:PORT (an IP cannot be a WebAuthn RP id).
//
// 1. The administrator signs in with password and TOTP, adds a passkey in My account, signs
//    out, and signs in again with the passkey alone (passwordless: it is the password and
//    the second factor in one).
// 2. With user verification off on the authenticator, a passkey sign-in fails.
// 3. After the password, a passkey can be the second factor instead of the code.
// 4. An app created with `--require-phishing-resistant` makes a TOTP-only session step up
//    to the passkey; the ID token the app then gets carries `amr` with `hwk`.
// 5. After `tessera admin user reset-mfa` (which removes passkeys too) the wizard enrols a
//    passkey as the account's second factor; being the only one, it cannot be removed.
//
// The virtual authenticator answers every request at once, also the sign-in page's
// conditional (autofill) request, so automatic presence is switched off whenever a page
// must stay put and on just before the ceremony the test means.
//
// The new pages are checked with axe-core (no serious or critical violations) and the
// form-field check, and screenshotted at 1280 and 375 px as e2e/artifacts/passkeys-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startTessera, freePort } from '../lib/server.mjs';
import { tesseraCli } from '../lib/docs_portal.mjs';
import { checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { pageText, signIn } from '../lib/signin.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591230000',
};
const ADMIN_PASSWORD = 'correct horse battery staple 42';

const pathOf = (page) => new URL(page.url()).pathname;
const field = (page, name) => page.locator(`form [name="${name}"]`);
const button = (page, name) => page.getByRole('button', { name, exact: true });

async function clickAndWait(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

async function checkPage(page, name) {
  await checkAccessibility(page, `passkeys-${name}`);
  await screenshots(page, `passkeys-${name}`);
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

async function signOut(page) {
  await clickAndWait(page, page.locator('form[action="/signout"] button').first());
  assert.equal(pathOf(page), '/signin', `sign-out should land on /signin; at ${page.url()}`);
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

test('passkeys: register, passwordless sign-in, user verification required, step-up for an app', { timeout: 240_000 }, async (t) => {
  const server = await startTessera();
  let browser;
  try {
    const { baseUrl, setupUrl } = server;
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const problems = [];
    context.on('weberror', (e) => problems.push(`page error on ${e.page()?.url()}: ${e.error().message}`));
    context.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) {
        problems.push(`CSP violation on ${msg.page()?.url()}: ${msg.text()}`);
      }
    });
    const page = await context.newPage();

    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
      },
    });

    await step(t, 'create the administrator and sign in with password and TOTP', async () => {
      const res = await page.goto(setupUrl);
      assert.equal(res.status(), 200);
      for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
      await field(page, 'password').fill(ADMIN_PASSWORD);
      await field(page, 'password_confirm').fill(ADMIN_PASSWORD);
      await clickAndWait(page, button(page, 'Create administrator'));
      await signIn(page, baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false, log: (l) => t.diagnostic(l) });
    });

    await step(t, 'add a passkey in My account', async () => {
      const res = await page.goto(`${baseUrl}/account/passkeys`);
      assert.equal(res.status(), 200, await pageText(page));
      await checkPage(page, 'account-empty');
      await field(page, 'passkey-name').fill('Test laptop');
      await clickAndWait(page, button(page, 'Add a passkey'));
      assert.equal(pathOf(page), '/account/passkeys', await pageText(page));
      const text = await pageText(page);
      assert.match(text, /The passkey was added/, text);
      assert.match(text, /Test laptop/, text);
      await checkPage(page, 'account-added');
      const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
      assert.equal(credentials.length, 1, 'the authenticator holds one credential');
      assert.equal(credentials[0].isResidentCredential, true, 'the passkey is discoverable');
    });

    // The virtual authenticator answers every request at once, also the sign-in page's
    // conditional (autofill) request; presence simulation is off while a page must stay.
    const presence = (enabled) => cdp.send('WebAuthn.setAutomaticPresenceSimulation', { authenticatorId, enabled });
    const leaveSignin = () => page.waitForURL((u) => !new URL(u).pathname.startsWith('/signin'), { timeout: 20_000 });

    await step(t, 'sign out, then sign in with the passkey alone', async () => {
      await presence(false);
      await signOut(page);
      assert.equal(await page.locator('#username').getAttribute('autocomplete'), 'username webauthn');
      await checkPage(page, 'signin');
      await presence(true);
      await Promise.all([leaveSignin(), button(page, 'Sign in with a passkey').click()]);
      const res = await page.goto(`${baseUrl}/account`);
      assert.equal(res.status(), 200);
      const text = await pageText(page, 10_000);
      assert.match(text, /passkey/i, `the session should list the passkey method; ${text}`);
    });

    await step(t, 'with user verification off, a passkey sign-in fails', async () => {
      await presence(false);
      await signOut(page);
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
      await presence(true);
      await button(page, 'Sign in with a passkey').click();
      const error = page.locator('[data-passkey-error]');
      await error.waitFor({ state: 'visible', timeout: 15_000 });
      await page.waitForTimeout(1_000);
      assert.equal(pathOf(page), '/signin', 'still on the sign-in page');
      t.diagnostic(`refusal shown: ${await error.innerText()}`);
      await presence(false);
      await checkPage(page, 'signin-unverified');
      await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: true });
    });

    await step(t, 'after the password, a passkey can be the second factor ("use another method")', async () => {
      // Presence is off (the previous step): the autofill request stays silent.
      assert.equal(pathOf(page), '/signin');
      await field(page, 'username').fill(ADMIN.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(ADMIN_PASSWORD);
      await clickAndWait(page, button(page, 'Sign in'));
      assert.equal(pathOf(page), '/signin/code', await pageText(page));
      await checkPage(page, 'code-with-passkey');
      await presence(true);
      await Promise.all([leaveSignin(), button(page, 'Use a passkey instead').click()]);
      await presence(false);
      await signOut(page);
    });

    await step(t, 'an app requiring phishing-resistant MFA makes a TOTP session step up; amr has hwk', async () => {
      const cbPort = await freePort();
      const redirectUri = `http://localhost:${cbPort}/callback`;
      await tesseraCli(server, ['admin', 'tenant', 'create', '--slug', 'agency', '--name', 'Agency']);
      const app = JSON.parse(
        await tesseraCli(server, [
          'admin', '--json', 'app', 'create',
          '--tenant', 'agency',
          '--name', 'Secure reports',
          '--redirect-uri', redirectUri,
          '--require-phishing-resistant',
        ]),
      );
      assert.ok(app.client_id && app.client_secret, JSON.stringify(app));

      // A TOTP-only session (password and code); the authenticator stays silent.
      await page.goto(`${baseUrl}/signin`);
      await signIn(page, baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false });

      // The app's callback: a tiny server that records where the browser was sent.
      let callback = null;
      const app_server = http.createServer((req, res) => {
        // Only the callback itself (the browser also asks for /favicon.ico).
        if (req.url.startsWith('/callback')) callback = `http://localhost:${cbPort}${req.url}`;
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('callback');
      });
      await new Promise((resolve) => app_server.listen(cbPort, '127.0.0.1', resolve));
      t.after(() => app_server.close());
      const verifier = b64url(crypto.randomBytes(32));
      const challenge = b64url(crypto.createHash('sha256').update(verifier).digest());
      const authorize = new URL(`${baseUrl}/authorize`);
      for (const [k, v] of Object.entries({
        client_id: app.client_id,
        redirect_uri: redirectUri,
        response_type: 'code',
        scope: 'openid profile',
        state: 'st-1',
        nonce: 'n-1',
        code_challenge: challenge,
        code_challenge_method: 'S256',
      })) authorize.searchParams.set(k, v);
      await page.goto(authorize.toString());
      assert.equal(pathOf(page), '/signin/step-up', `expected the step-up page; at ${page.url()}; ${await pageText(page)}`);
      await checkPage(page, 'step-up');
      await presence(true);

      await Promise.all([
        page.waitForURL((u) => u.toString().startsWith(redirectUri), { timeout: 20_000 }),
        button(page, 'Use my passkey').click(),
      ]);
      assert.ok(callback, 'the app got its callback');
      const params = new URL(callback).searchParams;
      assert.equal(params.get('state'), 'st-1');
      const code = params.get('code');
      assert.ok(code, `no code in ${callback}`);

      const res = await fetch(`${baseUrl}/token`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.client_id)}:${encodeURIComponent(app.client_secret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirectUri, code_verifier: verifier }),
      });
      const tokens = await res.json();
      assert.equal(res.status, 200, JSON.stringify(tokens));
      const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url').toString());
      t.diagnostic(`ID token amr: ${JSON.stringify(claims.amr)}`);
      assert.ok(Array.isArray(claims.amr) && claims.amr.includes('hwk'), `amr should include hwk: ${JSON.stringify(claims)}`);
      assert.equal(claims.nonce, 'n-1');
    });

    await step(t, 'after an MFA reset (passkeys go too), the wizard enrols a passkey as the second factor', async () => {
      await presence(false);
      await page.goto(`${baseUrl}/account`);
      await signOut(page);
      await tesseraCli(server, ['admin', 'user', 'reset-mfa', ADMIN.username]);
      await field(page, 'username').fill(ADMIN.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(ADMIN_PASSWORD);
      await clickAndWait(page, button(page, 'Sign in'));
      assert.equal(pathOf(page), '/signin/setup/authenticator', await pageText(page));
      await checkPage(page, 'wizard');
      await presence(true);
      await Promise.all([leaveSignin(), button(page, 'Set up a passkey instead').click()]);
      const res = await page.goto(`${baseUrl}/account/passkeys`);
      assert.equal(res.status(), 200);
      const text = await pageText(page, 10_000);
      assert.doesNotMatch(text, /Test laptop/, 'the reset removed the old passkey');
      assert.equal(await page.locator('tbody tr').count(), 1, `one passkey after the wizard; ${text}`);
      // The only second factor cannot be removed.
      await clickAndWait(page, page.locator('tbody tr button').first());
      assert.match(await pageText(page), /only second factor/, await pageText(page));
    });

    assert.deepEqual(problems, [], problems.join('\n'));
  } catch (err) {
    err.message += `\n--- server output (tail) ---\n${server.output().split('\n').slice(-60).join('\n')}`;
    throw err;
  } finally {
    await browser?.close();
    await server.stop();
  }
});
