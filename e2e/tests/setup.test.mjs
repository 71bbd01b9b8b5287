// End-to-end: first-run setup flow of the real Tessera server in headless Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTessera } from '../lib/server.mjs';
import { ARTIFACTS_DIR, checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { signIn } from '../lib/signin.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591234567',
};
const PASSWORD = 'correct horse battery staple 42';
const WRONG_CONFIRM = 'different password 123';

// ---------------------------------------------------------------- helpers

const pathOf = (page) => new URL(page.url()).pathname;

/** The form control with the given name attribute (must be unique on the page). */
const field = (page, name) => page.locator(`form [name="${name}"]`);

async function pageText(page, max = 800) {
  try {
    const text = await page.locator('body').innerText({ timeout: 2_000 });
    return text.replace(/\s+/g, ' ').trim().slice(0, max);
  } catch (err) {
    return `<could not read page text: ${err.message.split('\n')[0]}>`;
  }
}

/** Clicks and waits for the resulting top-level navigation (incl. redirects) to load. */
async function clickAndWait(page, locator) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    locator.click(),
  ]);
  return response;
}

async function expectH1(page, expected) {
  const h1s = (await page.locator('h1').allInnerTexts()).map((t) => t.trim());
  assert.ok(
    h1s.some((t) => t.includes(expected)),
    `expected an <h1> containing "${expected}" at ${page.url()}; ` +
      `found h1: ${JSON.stringify(h1s)}; page text: ${await pageText(page)}`,
  );
}

function expectPath(page, expected) {
  const actual = pathOf(page);
  const ok = expected instanceof RegExp ? expected.test(actual) : actual === expected;
  assert.ok(ok, `expected URL path ${expected}, got ${page.url()}`);
}

/** Text of the page's main content, without header/nav/footer chrome, plus any iframes. */
async function mainContentText(page) {
  const own = await page.evaluate(() => {
    const root = document.querySelector('main') || document.body;
    const clone = root.cloneNode(true);
    for (const el of clone.querySelectorAll('header, nav, footer, script, style')) el.remove();
    return clone.textContent;
  });
  const parts = [own];
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    try {
      parts.push(await frame.locator('body').innerText({ timeout: 2_000 }));
    } catch {
      // a frame we cannot read contributes nothing
    }
  }
  return parts.join('\n');
}

/** Runs one named step; failures are prefixed with the step name. */
async function step(t, name, fn) {
  t.diagnostic(`step: ${name}`);
  try {
    return await fn();
  } catch (err) {
    if (err && typeof err.message === 'string') err.message = `[step: ${name}] ${err.message}`;
    throw err;
  }
}

function tail(text, lines = 80) {
  return text.split('\n').slice(-lines).join('\n');
}

/** Collects CSP violations and uncaught page errors for a browser context. */
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

// ------------------------------------------------------------------ tests

test(
  'first run: setup link creates the admin, who signs in and sees admin home and outbox',
  { timeout: 240_000 },
  async (t) => {
    let server;
    let browser;
    let page;
    const pageProblems = [];
    try {
      server = await step(t, 'start server', async () => {
        const s = await startTessera();
        const setup = new URL(s.setupUrl);
        assert.equal(setup.hostname, 'localhost', `setup link host: ${s.setupUrl}`);
        assert.equal(setup.origin, s.baseUrl, `setup link must point at this server: ${s.setupUrl}`);
        assert.equal(setup.pathname, '/setup');
        return s;
      });
      const { baseUrl, setupUrl } = server;

      browser = await launchBrowser();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(10_000);
      context.setDefaultNavigationTimeout(20_000);
      watchContext(context, pageProblems);
      page = await context.newPage();

      await step(t, 'open setup link', async () => {
        const res = await page.goto(setupUrl);
        assert.equal(res.status(), 200, `GET ${setupUrl}: status ${res.status()}; ${await pageText(page)}`);
        await expectH1(page, 'Set up Tessera');
        await checkAccessibility(page, 'setup');
        await screenshots(page, 'setup');
      });

      await step(t, 'submit setup form with mismatched password confirmation', async () => {
        for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
        await field(page, 'password').fill(PASSWORD);
        await field(page, 'password_confirm').fill(WRONG_CONFIRM);
        const res = await clickAndWait(
          page,
          page.getByRole('button', { name: 'Create administrator', exact: true }),
        );
        assert.ok(res, 'submitting the setup form caused no navigation');
        assert.ok(res.status() < 500, `setup POST answered ${res.status()}: ${await pageText(page)}`);
        assert.notEqual(pathOf(page), '/signin', 'mismatched passwords must not create the admin');
        await expectH1(page, 'Set up Tessera');

        const errors = page.locator('form .field-error');
        const errorTexts = (await errors.allInnerTexts()).map((s) => s.trim());
        assert.ok(
          errorTexts.some((s) => /match/i.test(s)),
          `expected a .field-error inside the form mentioning "match"; found ${JSON.stringify(errorTexts)}; ` +
            `page text: ${await pageText(page)}`,
        );
        // The error must sit next to the confirmation field: either referenced by its
        // aria-describedby, or the nearest form control before/after it in document order.
        const placement = await page.evaluate(() => {
          const err = Array.from(document.querySelectorAll('form .field-error')).find((e) =>
            /match/i.test(e.textContent),
          );
          const form = err.closest('form');
          const confirm = form.querySelector('[name="password_confirm"]');
          if (!confirm) return { ok: false, why: 'no password_confirm field after re-render' };
          const described = (confirm.getAttribute('aria-describedby') || '').split(/\s+/);
          if (err.id && described.includes(err.id)) return { ok: true };
          if (described.some((id) => id && document.getElementById(id)?.contains(err))) return { ok: true };
          const controls = Array.from(
            form.querySelectorAll('input:not([type=hidden]):not([type=submit]), select, textarea'),
          );
          const before = controls.filter(
            (c) => c.compareDocumentPosition(err) & Node.DOCUMENT_POSITION_FOLLOWING,
          );
          const afterCtl = controls.filter(
            (c) => c.compareDocumentPosition(err) & Node.DOCUMENT_POSITION_PRECEDING,
          );
          const prev = before[before.length - 1];
          const next = afterCtl[0];
          const ok = prev === confirm || next === confirm;
          return {
            ok,
            why: `error sits between ${prev ? prev.name : '(start)'} and ${next ? next.name : '(end)'}`,
          };
        });
        assert.ok(placement.ok, `the "match" error is not next to password_confirm: ${placement.why}`);

        assert.equal(await field(page, 'username').inputValue(), 'admin', 'username must be kept on re-render');
        assert.equal(await field(page, 'password').inputValue(), '', 'password must not be echoed back');
        assert.equal(
          await field(page, 'password_confirm').inputValue(),
          '',
          'password_confirm must not be echoed back',
        );
        for (const name of ['given_name', 'family_name', 'email', 'mobile']) {
          const kept = await field(page, name).inputValue();
          if (kept !== ADMIN[name]) t.diagnostic(`note: ${name} not kept on re-render (got ${JSON.stringify(kept)})`);
        }
      });

      await step(t, 'submit setup form correctly', async () => {
        for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
        await field(page, 'password').fill(PASSWORD);
        await field(page, 'password_confirm').fill(PASSWORD);
        await clickAndWait(page, page.getByRole('button', { name: 'Create administrator', exact: true }));
        expectPath(page, '/signin');
        await expectH1(page, 'Sign in');
        await screenshots(page, 'signin');
        await checkAccessibility(page, 'signin');
      });

      await step(t, 'setup link is dead after use', async () => {
        const res = await page.goto(setupUrl);
        const text = await pageText(page, 2_000);
        assert.ok(/no longer valid/i.test(text), `expected "no longer valid" at ${setupUrl}; page text: ${text}`);
        assert.ok(
          res.status() >= 400 && res.status() < 500,
          `a used setup link should answer 4xx, got ${res.status()}`,
        );
        assert.equal(
          await page.locator('[name="password_confirm"]').count(),
          0,
          'the used setup link must not show the setup form again',
        );
      });

      await step(t, 'sign in as the new admin: username, password, authenticator enrolment', async () => {
        await page.goto(`${baseUrl}/signin`);
        const passed = await signIn(page, baseUrl, 'admin', PASSWORD, {
          name: 'signin',
          log: (line) => t.diagnostic(line),
        });
        assert.deepEqual(
          passed,
          ['/signin', '/signin/password', '/signin/setup/authenticator'],
          'the first sign-in asks username, password, then sets up the authenticator app',
        );
        expectPath(page, '/admin');
        await expectH1(page, 'Administration');
        await screenshots(page, 'admin-home');
        await checkAccessibility(page, 'admin-home');
      });

      await step(t, 'outbox lists the welcome message', async () => {
        await clickAndWait(page, page.getByRole('link', { name: 'Outbox', exact: true }).first());
        expectPath(page, '/admin/outbox');
        await expectH1(page, 'Outbox');
        const rows = page
          .locator('table tr')
          .filter({ hasText: 'ada@agency.gov.sg' })
          .filter({ hasText: 'Welcome to Tessera' });
        assert.ok(
          (await rows.count()) >= 1,
          `expected a table row with "ada@agency.gov.sg" and "Welcome to Tessera"; page text: ${await pageText(page, 2_000)}`,
        );
        await screenshots(page, 'outbox');
        await checkAccessibility(page, 'outbox');

        const subjectLink = rows.first().getByRole('link').filter({ hasText: 'Welcome to Tessera' }).first();
        await clickAndWait(page, subjectLink);
        expectPath(page, /^\/admin\/outbox\/[^/]+$/);
        const body = await mainContentText(page);
        assert.ok(
          /\badmin\b/.test(body),
          `the welcome message should name the username "admin"; message page content: ${body.replace(/\s+/g, ' ').slice(0, 1_500)}`,
        );
        await screenshots(page, 'outbox-message');
        await checkAccessibility(page, 'outbox-message');
      });

      await step(t, 'wrong password is refused without revealing whether the user exists', async () => {
        const ctx2 = await browser.newContext();
        ctx2.setDefaultTimeout(10_000);
        watchContext(ctx2, pageProblems);
        try {
          const p2 = await ctx2.newPage();
          const attempt = async (username) => {
            await p2.goto(`${baseUrl}/signin`);
            await field(p2, 'username').fill(username);
            const first = await clickAndWait(p2, p2.getByRole('button', { name: 'Next', exact: true }));
            // Identifier-first: a known and an unknown username both go on to the password page.
            assert.equal(
              pathOf(p2),
              '/signin/password',
              `after the username ${username}: expected the password page, got ${p2.url()}; page text: ${await pageText(p2)}`,
            );
            const passwordPage = { status: first?.status(), h1: (await p2.locator('h1').allInnerTexts()).join(' | ') };
            await field(p2, 'password').fill('not the right password 99');
            const res = await clickAndWait(p2, p2.getByRole('button', { name: 'Sign in', exact: true }));
            assert.notEqual(pathOf(p2), '/admin', `wrong password for ${username} signed in`);
            assert.ok(
              !/^\/signin\/(code|setup|complete)/.test(pathOf(p2)),
              `wrong password for ${username} went on to ${p2.url()}`,
            );
            const errs = (await p2.locator('.form-error').allInnerTexts()).map((s) => s.trim());
            assert.ok(
              errs.some((s) => s.includes('Incorrect username or password')),
              `expected .form-error "Incorrect username or password" for ${username}; found ${JSON.stringify(errs)}; ` +
                `page text: ${await pageText(p2)}`,
            );
            return { passwordPage, status: res?.status(), errors: errs.join(' | '), path: pathOf(p2) };
          };
          const existing = await attempt('admin');
          const unknown = await attempt('no-such-user-7f3a');
          assert.deepEqual(
            unknown,
            existing,
            'sign-in failure for an unknown user must look the same as for a wrong password',
          );
        } finally {
          await ctx2.close();
        }
      });

      await step(t, 'sign out', async () => {
        const cookiesBefore = await context.cookies(baseUrl);
        const signOut = page.getByRole('button', { name: 'Sign out', exact: true });
        const method = await signOut.evaluate((b) => (b.form ? (b.form.getAttribute('method') || 'get') : null));
        assert.equal(method?.toLowerCase(), 'post', '"Sign out" must submit a POST form');
        await clickAndWait(page, signOut);
        expectPath(page, '/signin');

        const res = await page.goto(`${baseUrl}/admin`);
        expectPath(page, '/signin');
        assert.ok(res.request().redirectedFrom(), 'GET /admin after sign-out should redirect to /signin');

        // The old session cookie must be dead server-side, not just deleted in this browser.
        const ctx3 = await browser.newContext();
        try {
          await ctx3.addCookies(cookiesBefore);
          const p3 = await ctx3.newPage();
          await p3.goto(`${baseUrl}/admin`);
          assert.equal(pathOf(p3), '/signin', 'a session cookie from before sign-out still opens /admin');
        } finally {
          await ctx3.close();
        }
      });

      await step(t, 'signing in again asks only the password and the authenticator code', async () => {
        const passed = await signIn(page, baseUrl, 'admin', PASSWORD, {
          name: 'signin',
          log: (line) => t.diagnostic(line),
        });
        assert.deepEqual(
          passed,
          ['/signin', '/signin/password', '/signin/code'],
          'a later sign-in asks username, password and the code from the authenticator app',
        );
        expectPath(page, '/admin');
        await expectH1(page, 'Administration');
      });

      assert.deepEqual(pageProblems, [], 'pages reported CSP violations or script errors');
    } catch (err) {
      if (page) {
        try {
          const file = path.join(ARTIFACTS_DIR, 'failure-first-run.png');
          await page.screenshot({ path: file, fullPage: true });
          t.diagnostic(`failure screenshot: ${file} (at ${page.url()})`);
        } catch {
          // ignore
        }
      }
      if (server && err && typeof err.message === 'string') {
        err.message += `\n--- last server output ---\n${tail(server.output())}`;
      }
      throw err;
    } finally {
      if (browser) await browser.close();
      if (server) await server.stop();
    }
  },
);

describe('security', () => {
  let server;
  before(async () => {
    server = await startTessera();
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('security headers', async () => {
    const res = await fetch(`${server.baseUrl}/signin`);
    await res.arrayBuffer();
    assert.equal(res.status, 200, `GET /signin: ${res.status}`);
    const csp = res.headers.get('content-security-policy') || '';
    assert.ok(csp.includes("script-src 'self'"), `content-security-policy: ${JSON.stringify(csp)}`);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal((res.headers.get('x-frame-options') || '').toUpperCase(), 'DENY', 'x-frame-options');
    assert.ok(res.headers.get('referrer-policy'), 'referrer-policy header missing');
    assert.ok(res.headers.get('x-request-id'), 'x-request-id header missing');

    const nf = await fetch(`${server.baseUrl}/no-such-page`);
    const body = await nf.text();
    assert.equal(nf.status, 404, `GET /no-such-page: ${nf.status}`);
    assert.match(nf.headers.get('content-type') || '', /text\/html/, 'the 404 page should be HTML');
    const requestId = nf.headers.get('x-request-id');
    assert.ok(requestId, 'x-request-id header missing on 404');
    assert.ok(
      body.includes(requestId),
      `the 404 page should show its request id ${requestId}; body: ${body.slice(0, 1_000)}`,
    );
  });

  test('cross-site form POST to /signin is refused with 403', async (t) => {
    const { baseUrl } = server;
    // Take whatever the sign-in form needs (cookies, hidden fields) so that the only
    // difference between the two POSTs below is where they claim to come from.
    const page = await fetch(`${baseUrl}/signin`);
    const html = await page.text();
    const cookie = page.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const form = new URLSearchParams();
    for (const tag of html.match(/<input\b[^>]*>/gi) || []) {
      if (!/type\s*=\s*["']?hidden/i.test(tag)) continue;
      const name = tag.match(/\bname\s*=\s*"([^"]*)"/i)?.[1];
      const value = tag.match(/\bvalue\s*=\s*"([^"]*)"/i)?.[1] ?? '';
      if (name) form.append(name, decodeEntities(value));
    }
    form.append('username', 'admin');
    form.append('password', 'not the right password 99');

    const post = (headers) =>
      fetch(`${baseUrl}/signin`, {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          ...(cookie ? { cookie } : {}),
          ...headers,
        },
        body: form.toString(),
      });

    const sameOrigin = await post({ origin: baseUrl, 'sec-fetch-site': 'same-origin' });
    const sameBody = await sameOrigin.text();
    assert.notEqual(
      sameOrigin.status,
      403,
      `control: a same-origin sign-in POST must not be refused with 403 (else the next check proves nothing); body: ${sameBody.slice(0, 500)}`,
    );

    const crossSite = await post({ origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    await crossSite.arrayBuffer();
    assert.equal(crossSite.status, 403, `cross-site POST /signin answered ${crossSite.status}`);

    // Informational: browsers without Sec-Fetch-Site still send Origin.
    const originOnly = await post({ origin: 'https://evil.example' });
    await originOnly.arrayBuffer();
    t.diagnostic(`cross-origin POST with Origin only (no Sec-Fetch-Site) answered ${originOnly.status}`);
  });
});

function decodeEntities(s) {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x2F;|&#47;/g, '/')
    .replace(/&amp;/g, '&');
}
