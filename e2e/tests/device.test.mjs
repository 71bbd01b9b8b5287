// End-to-end: the OAuth device grant (RFC 8628). A "device" asks for a code, the user
// enters it on Tessera's /device page in headless Chromium and approves, and the device's
// next poll gets tokens.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { REPO_ROOT, startTessera } from '../lib/server.mjs';
import { checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { signIn } from '../lib/signin.mjs';

const run = promisify(execFile);
const BIN = process.env.TESSERA_BIN || path.join(REPO_ROOT, 'target', 'debug', 'tessera');
const PASSWORD = 'correct horse battery staple 42';

let server;
let browser;

/** Runs `tessera admin …` against the server's own database (same working folder). */
async function admin(args, input) {
  const child = run(BIN, ['admin', ...args], { cwd: server.dir, env: { ...process.env } });
  if (input !== undefined) {
    child.child.stdin.end(input);
  }
  const { stdout } = await child;
  return stdout;
}

async function poll(clientId, deviceCode) {
  const r = await fetch(`${server.baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      device_code: deviceCode,
      client_id: clientId,
    }),
  });
  return { status: r.status, body: await r.json() };
}

before(async () => {
  server = await startTessera();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('device grant: the user enters the code in a browser and the device gets tokens', async () => {
  await admin(['bootstrap', '--username', 'grace', '--email', 'grace@agency.gov.sg', '--password-stdin'], PASSWORD);
  await admin(['tenant', 'create', '--slug', 'lab', '--name', 'Lab']);
  const app = JSON.parse(
    await admin(['app', 'create', '--tenant', 'lab', '--name', 'Meeting-room screen', '--public', '--grant', 'device_code', '--json']),
  );

  // The device starts the flow.
  const started = await fetch(`${server.baseUrl}/device_authorization`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: app.client_id, scope: 'openid profile' }),
  });
  assert.equal(started.status, 200);
  const device = await started.json();
  assert.match(device.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  assert.equal(device.verification_uri, `${server.baseUrl}/device`);
  const pending = await poll(app.client_id, device.device_code);
  assert.equal(pending.body.error, 'authorization_pending');

  // The user, in a browser: the verification page asks them to sign in first.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(device.verification_uri);
  assert.equal(new URL(page.url()).pathname, '/signin');
  const passed = await signIn(page, server.baseUrl, 'grace', PASSWORD, { name: 'device-signin' });
  assert.deepEqual(passed, ['/signin', '/signin/password', '/signin/setup/authenticator']);
  assert.equal(new URL(page.url()).pathname, '/device', 'back on the device page after sign-in');
  await checkAccessibility(page, 'device');
  await screenshots(page, 'device');

  // A mistyped code is refused on the page; the right one (typed loosely) is accepted.
  await page.getByLabel('Code shown on your device').fill('BBBB-BBBB');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
  assert.match(await page.locator('.form-error').innerText(), /not valid/);
  await page.getByLabel('Code shown on your device').fill(device.user_code.replace('-', ' ').toLowerCase());
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
  assert.match(await page.locator('h1').innerText(), /Allow this device/);
  assert.match(await page.locator('main').innerText(), /Meeting-room screen/);
  await checkAccessibility(page, 'device-confirm');
  await screenshots(page, 'device-confirm');
  await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Allow' }).click()]);
  assert.match(await page.locator('h1').innerText(), /Device connected/);

  // The device's next poll (after the interval) gets tokens for grace.
  await new Promise((resolve) => setTimeout(resolve, device.interval * 1000 + 200));
  const done = await poll(app.client_id, device.device_code);
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const claims = JSON.parse(Buffer.from(done.body.id_token.split('.')[1], 'base64url').toString());
  assert.equal(claims.preferred_username, 'grace');
  assert.equal(claims.aud, app.client_id);
  const userinfo = await fetch(`${server.baseUrl}/userinfo`, {
    headers: { authorization: `Bearer ${done.body.access_token}` },
  });
  assert.equal((await userinfo.json()).sub, claims.sub);
  await context.close();
});
