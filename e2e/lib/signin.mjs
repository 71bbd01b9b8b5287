// Signs in through Tessera's identifier-first portal sign-in in the browser:
// username page -> password page -> authenticator enrolment (first sign-in; the key is
// read from the page) or the authenticator code -> /signin/complete -> where the sign-in
// began. Each sign-in page it passes is checked with axe-core and the form-field checks
// and screenshotted at 1280 and 375 px (see browser.mjs).
import assert from 'node:assert/strict';
import { checkAccessibility, screenshots } from './browser.mjs';
import * as totp from './totp.mjs';

const pathOf = (page) => new URL(page.url()).pathname;
const field = (page, name) => page.locator(`form [name="${name}"]`);

export async function pageText(page, max = 1_500) {
  try {
    const text = await page.locator('body').innerText({ timeout: 2_000 });
    return text.replace(/\s+/g, ' ').trim().slice(0, max);
  } catch (err) {
    return `<could not read page text: ${err.message.split('\n')[0]}>`;
  }
}

/** Clicks and waits for the resulting top-level navigation (incl. redirects) to load. */
async function clickAndWait(page, locator) {
  const [response] = await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
  return response;
}

async function expectH1(page, expected) {
  const h1s = (await page.locator('h1').allInnerTexts()).map((t) => t.trim());
  assert.ok(
    h1s.some((t) => t.includes(expected)),
    `expected an <h1> containing "${expected}" at ${page.url()}; found h1: ${JSON.stringify(h1s)}; ` +
      `page text: ${await pageText(page)}`,
  );
}

// The sign-in pages: path -> [artifact suffix, <h1>].
const PAGES = {
  '/signin': ['username', 'Sign in'],
  '/signin/password': ['password', 'Enter your password'],
  '/signin/setup/authenticator': ['authenticator', 'Set up your authenticator app'],
  '/signin/code': ['code', 'Enter your code'],
};

/**
 * Signs `username` in with `password` and the authenticator app. Starts on the current
 * page when it is /signin (e.g. after a redirect that carries `next`), else opens
 * `${baseUrl}/signin`. Returns when the browser has left the sign-in pages, i.e. is where
 * the sign-in began (or /admin, /); throws, with the page text, if a step refuses.
 *
 * Options:
 *   checks   run axe + form-field checks and save screenshots on each page (default true)
 *   name     artifact name prefix: <name>-username, -password, -authenticator, -code
 *            (default "signin")
 *   log      a function given one line per step (e.g. t.diagnostic)
 *
 * @returns {Promise<string[]>} the sign-in pages passed, by path, in order
 */
export async function signIn(page, baseUrl, username, password, { checks = true, name = 'signin', log } = {}) {
  const seen = [];
  const visit = async (path) => {
    const [suffix, h1] = PAGES[path];
    seen.push(path);
    log?.(`sign-in: ${username} at ${path}`);
    await expectH1(page, h1);
    if (checks) {
      await checkAccessibility(page, `${name}-${suffix}`);
      await screenshots(page, `${name}-${suffix}`);
    }
  };
  const refusedOn = async (what) => {
    const errors = (await page.locator('.form-error, .field-error').allInnerTexts()).map((s) => s.trim());
    return (
      `${what} for ${username}: still at ${page.url()}; errors ${JSON.stringify(errors)}; ` +
      `page text: ${await pageText(page)}`
    );
  };

  if (pathOf(page) !== '/signin' || new URL(page.url()).origin !== new URL(baseUrl).origin) {
    const res = await page.goto(`${baseUrl}/signin`);
    assert.equal(res.status(), 200, `GET ${baseUrl}/signin: ${res.status()}; ${await pageText(page)}`);
  }

  // 1. Username.
  await visit('/signin');
  await field(page, 'username').fill(username);
  await clickAndWait(page, page.getByRole('button', { name: 'Next', exact: true }));
  assert.equal(pathOf(page), '/signin/password', await refusedOn('the username page'));

  // 2. Password.
  await visit('/signin/password');
  await field(page, 'password').fill(password);
  await clickAndWait(page, page.getByRole('button', { name: 'Sign in', exact: true }));
  assert.notEqual(pathOf(page), '/signin/password', await refusedOn('the password'));

  // 3. The authenticator: enrol one (first sign-in) or enter its code.
  for (let i = 0; i < 3; i += 1) {
    const path = pathOf(page);
    if (path === '/signin/setup/authenticator') {
      await visit(path);
      const keyText = (await page.locator('#totp-key').innerText()).trim();
      assert.match(
        keyText,
        /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/,
        `the key on the enrolment page should be base32 in groups of 4; got ${JSON.stringify(keyText)}`,
      );
      totp.remember(baseUrl, username, keyText);
      await field(page, 'code').fill(await totp.nextCode(baseUrl, username));
      await clickAndWait(page, page.getByRole('button', { name: 'Next', exact: true }));
      assert.notEqual(pathOf(page), path, await refusedOn('the enrolment code'));
    } else if (path === '/signin/code') {
      await visit(path);
      await field(page, 'code').fill(await totp.nextCode(baseUrl, username));
      await clickAndWait(page, page.getByRole('button', { name: 'Verify', exact: true }));
      assert.notEqual(pathOf(page), path, await refusedOn('the authenticator code'));
    } else {
      break;
    }
  }

  // 4. /signin/complete set the session and sent the browser on; nothing else may be left.
  const at = pathOf(page);
  assert.ok(
    !at.startsWith('/signin'),
    `sign-in of ${username} did not finish (pages passed: ${seen.join(' -> ')}): at ${page.url()}; ` +
      `page text: ${await pageText(page)}`,
  );
  return seen;
}
