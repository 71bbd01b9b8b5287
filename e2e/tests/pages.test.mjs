// End-to-end (issue #5, "Done when" 6): the pages the other e2e tests do not visit, each
// checked with axe-core (no serious or critical violations), the strict form-field check
// (every visible input/select/textarea has a label or aria-label and the standard
// `autocomplete` token for its purpose; `off` or another value for fields without one) and
// screenshotted at 1280 and 375 px as e2e/artifacts/pages-*.png:
//
//   - admin pages: /admin/users (with filters), /admin/users/<id>, /admin/settings (and its
//     error state), /admin/outbox (and one message), /invitations, /admin/policies;
//   - "My account": /account, /account/password (and its weak-password error), /account/mfa/add;
//   - the account chooser /signin/choose with two signed-in accounts in one browser;
//   - self-service password reset: /signin/forgot, /signin/forgot/code,
//     /signin/forgot/authenticator, /signin/forgot/password, completed for a vendor, after
//     which the new password signs in and the vendor's old sessions are ended;
//   - officer self-registration: /get-started, /get-started/code, /get-started/details and
//     /my-request.
//
// One administrator is bootstrapped; the second account is a vendor invited and registered
// as in lifecycle.test.mjs, who completes the first-sign-in wizard (no policies are
// published, so it is authenticator, phone, password). The tests run in order and share
// that state; accessibility findings are collected per test and asserted at its end so that
// one run reports all of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTessera } from '../lib/server.mjs';
import { startSmsReceiver, startSmtpSink } from '../lib/sinks.mjs';
import { ARTIFACTS_DIR, checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { pageText, signIn } from '../lib/signin.mjs';
import { startDocsPortal } from '../lib/docs_portal.mjs';
import * as totp from '../lib/totp.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591230001',
};
const ADMIN_PASSWORD = 'correct horse battery staple 42';

const VENDOR_EMAIL = 'pat.vendor@vendor.example.com';
const VENDOR = {
  username: 'pvendor',
  given_name: 'Pat',
  family_name: 'Vendor',
  department: 'Digital Services Division',
  mobile: '98761234',
};
const VENDOR_E164 = '+6598761234';
const WEAK_PASSWORD = 'password1234';
const VENDOR_PASSWORD = 'Quiet lantern orbits 7 marmalade ferries';
const VENDOR_RESET_PASSWORD = 'Velvet harbour cranes 9 juggle pinecones';

const OFFICER_EMAIL = 'olive.officer@tech.gov.sg';
const OFFICER = {
  given_name: 'Olive',
  family_name: 'Officer',
  mobile: '91112222',
  department: 'Government Technology Agency',
};

const MESSAGE_WAIT_MS = 15_000;

// Standard autocomplete tokens (HTML "autofill detail tokens") by field name.
const EXPECTED_AUTOCOMPLETE = {
  // With `webauthn`: the sign-in page offers passkeys in the field's autofill.
  username: ['username', 'username webauthn'],
  current_password: ['current-password'],
  new_password: ['new-password'],
  confirm_password: ['new-password'],
  password_confirm: ['new-password'],
  code: ['one-time-code'],
  email: ['email'],
  to: ['email'], // the outbox's "Send a test email to"
  // The number next to a separate country-code picker: `tel-national` is the precise token,
  // `tel` is accepted too.
  mobile: ['tel', 'tel-national'],
  mobile_country: ['tel-country-code'],
  given_name: ['given-name'],
  family_name: ['family-name'],
  department: ['organization'],
};
// Fields with no standard token: the attribute must be there ("off" or any value).
const NO_STANDARD_TOKEN = [
  'title', 'body', 'kind', 'status', // policies, invitations filter
  'label', // name of an authenticator app
  'q', 'state', 'type', 'agency', // user filters
  'days', // extend the activation deadline
  'agency_domains', 'no_inbox', 'invitation_validity_days', 'activation_window_days',
  'seed_invitation_validity_days', 'reminder_days_before', 'lockout_max_failures', 'lockout_minutes',
];

// ---------------------------------------------------------------- helpers

const pathOf = (page) => new URL(page.url()).pathname;
const field = (page, name) => page.locator(`form [name="${name}"]`);
const button = (page, name) => page.getByRole('button', { name, exact: true });
/** The account chooser's button for `username` (by its visible text, not its aria-label). */
const choice = (page, username) =>
  page.locator('button.account-choice').filter({ hasText: new RegExp(`(^|\\s)${username}\\s·`) });

async function clickAndWait(page, locator) {
  const [response] = await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    locator.click(),
  ]);
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

async function goto(page, url, what = `GET ${url}`) {
  const res = await page.goto(url);
  await expectStatus(page, res, 200, what);
  return res;
}

/** The text of the field's error message (#<name>-error), asserting it is shown. */
async function fieldError(page, name) {
  const el = page.locator(`#${name}-error`);
  assert.equal(
    await el.count(),
    1,
    `expected the error message #${name}-error at ${page.url()}; page text: ${await pageText(page)}`,
  );
  assert.ok(await el.isVisible(), `#${name}-error must be visible`);
  return (await el.innerText()).replace(/^Error:\s*/, '').trim();
}

/** Asserts the field is marked invalid and points at its error message. */
async function expectInvalid(page, name) {
  const input = page.locator(`#${name}`);
  assert.equal(await input.getAttribute('aria-invalid'), 'true', `#${name} should be aria-invalid="true"`);
  const described = ((await input.getAttribute('aria-describedby')) || '').split(/\s+/);
  assert.ok(described.includes(`${name}-error`), `#${name} aria-describedby should include ${name}-error; got ${JSON.stringify(described)}`);
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
  return (
    message.to.toLowerCase().includes(want) ||
    message.envelopeTo.some((rcpt) => rcpt.toLowerCase() === want)
  );
}

/** A six-digit code that is none of the authenticator's codes around now. */
function wrongTotp(baseUrl, username) {
  const valid = [-2, -1, 0, 1, 2].map((o) => totp.codeAt(baseUrl, username, o));
  return ['123456', '654321', '000000', '999999', '111111'].find((c) => !valid.includes(c));
}

/**
 * The strict form-field check (as in onboarding.test.mjs): every visible input (not
 * hidden/button types), select and textarea has a label with text (or
 * aria-label/aria-labelledby), unless it is hidden from assistive technology and out of the
 * tab order; and, except checkboxes/radios/files, the standard autocomplete token for its
 * purpose, or (fields with no standard token) an autocomplete attribute.
 */
async function strictFieldProblems(page) {
  return page.evaluate(
    ({ expected, noToken }) => {
      const out = [];
      const setupPage = location.pathname.startsWith('/signin/setup') || location.pathname === '/setup';
      for (const el of document.querySelectorAll('input, select, textarea')) {
        const tag = el.tagName.toLowerCase();
        const type = tag === 'input' ? (el.getAttribute('type') || 'text').toLowerCase() : tag;
        if (['hidden', 'submit', 'button', 'reset', 'image'].includes(type)) continue;
        const style = getComputedStyle(el);
        if (el.getClientRects().length === 0 || style.visibility === 'hidden' || style.display === 'none') continue;
        const name = el.getAttribute('name') || '';
        const ident = `<${tag}${name ? ` name="${name}"` : ''}${el.id ? ` id="${el.id}"` : ''}${tag === 'input' ? ` type="${type}"` : ''}>`;

        const hiddenFromAt = el.closest('[aria-hidden="true"]') !== null && el.tabIndex < 0;
        const byLabel = Array.from(el.labels || []).some((l) => l.textContent.trim() !== '');
        const byAria = (el.getAttribute('aria-label') || '').trim() !== '';
        const byLabelledBy = (el.getAttribute('aria-labelledby') || '')
          .split(/\s+/)
          .filter(Boolean)
          .some((id) => (document.getElementById(id)?.textContent || '').trim() !== '');
        if (!hiddenFromAt && !byLabel && !byAria && !byLabelledBy) {
          out.push(`${ident} has no associated <label> with text (nor aria-label/aria-labelledby)`);
        }

        if (['checkbox', 'radio', 'file'].includes(type)) continue;
        const raw = el.getAttribute('autocomplete');
        if (raw === null) {
          out.push(`${ident} has no autocomplete attribute`);
          continue;
        }
        const ac = raw.trim().toLowerCase();
        let want = expected[name];
        if (name === 'password') want = setupPage ? ['new-password'] : ['current-password'];
        if (want) {
          if (!want.includes(ac)) out.push(`${ident} has autocomplete="${raw}"; expected ${want.map((w) => `"${w}"`).join(' or ')}`);
        } else if (!noToken.includes(name)) {
          out.push(`${ident} has autocomplete="${raw}" but the test does not know its purpose (classify it)`);
        }
      }
      return out;
    },
    { expected: EXPECTED_AUTOCOMPLETE, noToken: NO_STANDARD_TOKEN },
  );
}

// ------------------------------------------------------------------ shared state

const S = {
  smtp: null,
  sms: null,
  server: null,
  portal: null,
  browser: null,
  baseUrl: '',
  adminContext: null,
  admin: null, // the administrator's page
  vendorContext: null,
  vendor: null, // the vendor's page (own browser context)
  vendorId: '',
  adminId: '',
  vendorActive: false,
  pageProblems: [],
  checked: [],
  minor: [], // moderate/minor axe findings, for the report
};

/** A fresh browser context with the usual timeouts and CSP/script-error watching. */
async function newContext() {
  const context = await S.browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(10_000);
  context.setDefaultNavigationTimeout(20_000);
  watchContext(context, S.pageProblems);
  return context;
}

/** Per-test checker: axe + strict field check + screenshots; findings go to `a11y`. */
function checker(a11y) {
  return async (p, name) => {
    const full = `pages-${name}`;
    S.checked.push(`${full} ${pathOf(p)}`);
    try {
      const minor = await checkAccessibility(p, full);
      for (const v of minor || []) {
        S.minor.push(`${full} (${pathOf(p)}): [${v.impact}] ${v.id} on ${v.nodes.map((n) => n.target).join(', ')}`);
      }
    } catch (err) {
      // checkAccessibility runs axe, then browser.mjs's own field check, which this test
      // replaces with the stricter one below; only axe's findings count from it.
      if (!String(err.message).startsWith('form field check')) a11y.push(err.message);
    }
    for (const problem of await strictFieldProblems(p)) {
      a11y.push(`form field check "${full}" (${p.url()}): ${problem}`);
    }
    await screenshots(p, full);
  };
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
    const problems = S.pageProblems.slice(problemsBefore);
    assert.deepEqual(problems, [], 'pages reported CSP violations or script errors');
    assert.ok(a11y.length === 0, `${a11y.length} accessibility / form-field finding(s):\n${a11y.join('\n\n')}`);
  } catch (err) {
    const p = current;
    if (p) {
      try {
        const file = path.join(ARTIFACTS_DIR, `failure-pages-${name}.png`);
        await p.screenshot({ path: file, fullPage: true });
        t.diagnostic(`failure screenshot: ${file} (at ${p.url()})`);
      } catch {
        // ignore
      }
    }
    if (err && typeof err.message === 'string') {
      if (a11y.length && !err.message.includes('accessibility / form-field finding')) {
        err.message += `\n--- accessibility findings so far (${a11y.length}) ---\n${a11y.join('\n\n')}`;
      }
      if (S.smtp) err.message += `\n--- emails received (${S.smtp.messages.length}) ---\n${S.smtp.messages.map(S.smtp.describe).join('\n')}`;
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
  S.browser = await launchBrowser();

  S.adminContext = await newContext();
  S.admin = await S.adminContext.newPage();
  const page = S.admin;
  const res = await page.goto(S.server.setupUrl);
  await expectStatus(page, res, 200, `GET ${S.server.setupUrl}`);
  for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
  await field(page, 'password').fill(ADMIN_PASSWORD);
  await field(page, 'password_confirm').fill(ADMIN_PASSWORD);
  await clickAndWait(page, button(page, 'Create administrator'));
  expectPath(page, '/signin', 'after creating the administrator');
  // The sign-in pages are checked by onboarding.test.mjs.
  await signIn(page, S.baseUrl, ADMIN.username, ADMIN_PASSWORD, { checks: false });
});

after(async () => {
  if (S.checked.length) console.log(`# pages checked (${S.checked.length}):\n#   ${S.checked.join('\n#   ')}`);
  if (S.minor.length) console.log(`# moderate/minor axe findings (not blocking):\n#   ${S.minor.join('\n#   ')}`);
  if (S.browser) await S.browser.close();
  if (S.portal) await S.portal.stop();
  if (S.server) await S.server.stop();
  if (S.smtp) await S.smtp.close();
  if (S.sms) await S.sms.close();
});

// ------------------------------------------------------------------ tests

test('admin: invitations, settings (error, then agency domain), users and user pages, outbox, policies', { timeout: 240_000 }, async (t) => {
  await withChecks(t, 'admin', async (checkPage, track) => {
    const page = track(S.admin);
    const { baseUrl } = S;

    await step(t, '/invitations: invite the vendor', async () => {
      await goto(page, `${baseUrl}/invitations`);
      await expectH1(page, 'Invitations');
      await checkPage(page, 'invitations');
      await field(page, 'email').fill(VENDOR_EMAIL);
      const sent = await clickAndWait(page, button(page, 'Send invitation'));
      await expectStatus(page, sent, 200, 'after "Send invitation"');
      const notices = (await page.locator('.notice').allInnerTexts()).map((s) => s.trim());
      assert.ok(notices.includes('Invitation sent.'), `notices: ${JSON.stringify(notices)}; page text: ${await pageText(page)}`);
      await checkPage(page, 'invitations-sent');
    });

    await step(t, 'the vendor registers through the emailed link', async () => {
      const mail = await S.smtp.waitFor(
        (m) => addressedTo(m, VENDOR_EMAIL) && /\/register\?token=/.test(m.body),
        MESSAGE_WAIT_MS,
        `the invitation email to ${VENDOR_EMAIL}`,
      );
      const link = mail.body.match(/https?:\/\/[^\s<>"]+\/register\?token=[A-Za-z0-9_-]+/)?.[0];
      assert.ok(link, `no registration link in the email body:\n${mail.body.slice(0, 2_000)}`);
      S.vendorContext = await newContext();
      const p = track(await S.vendorContext.newPage());
      await goto(p, link);
      await field(p, 'username').fill(VENDOR.username);
      await field(p, 'given_name').fill(VENDOR.given_name);
      await field(p, 'family_name').fill(VENDOR.family_name);
      await field(p, 'mobile_country').selectOption('+65');
      await field(p, 'mobile').fill(VENDOR.mobile);
      await field(p, 'department').fill(VENDOR.department);
      const done = await clickAndWait(p, button(p, 'Register'));
      await expectStatus(p, done, 200, 'registration');
      await expectH1(p, 'Registration complete');
      S.vendor = p;
      track(page);
    });

    await step(t, '/admin/settings: a bad value is refused with a field message', async () => {
      await goto(page, `${baseUrl}/admin/settings`);
      await expectH1(page, 'Lifecycle settings');
      await checkPage(page, 'admin-settings');
      await field(page, 'invitation_validity_days').fill('abc');
      const res = await clickAndWait(page, button(page, 'Save settings'));
      await expectStatus(page, res, 422, 'saving settings with invitation validity "abc"');
      await expectH1(page, 'Lifecycle settings');
      assert.ok((await fieldError(page, 'invitation_validity_days')).length > 0, 'the validity field has a message');
      await expectInvalid(page, 'invitation_validity_days');
      await checkPage(page, 'admin-settings-error');
    });

    await step(t, '/admin/settings: tech.gov.sg is an agency domain (for /get-started)', async () => {
      await goto(page, `${baseUrl}/admin/settings`);
      const domains = await field(page, 'agency_domains').inputValue();
      t.diagnostic(`agency domains: ${JSON.stringify(domains)}`);
      const lines = domains.split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
      if (!lines.some((d) => d === 'tech.gov.sg' || d === '*.gov.sg')) {
        await field(page, 'agency_domains').fill([...lines, 'tech.gov.sg'].join('\n'));
      }
      const res = await clickAndWait(page, button(page, 'Save settings'));
      await expectStatus(page, res, 200, 'saving valid settings');
      expectPath(page, '/admin/settings');
      const notices = (await page.locator('.notice').allInnerTexts()).join(' ');
      assert.ok(notices.trim().length > 0, `a notice after saving; page text: ${await pageText(page)}`);
      await checkPage(page, 'admin-settings-saved');
    });

    await step(t, '/admin/users, then with filters', async () => {
      await goto(page, `${baseUrl}/admin/users`);
      await expectH1(page, 'Users');
      const text = await pageText(page, 5_000);
      assert.ok(text.includes(ADMIN.username) && text.includes(VENDOR.username), `both users listed; page text: ${text}`);
      await checkPage(page, 'admin-users');

      await field(page, 'q').fill(VENDOR.family_name);
      await field(page, 'state').selectOption('pending');
      await field(page, 'type').selectOption('vendor');
      await clickAndWait(page, button(page, 'Apply'));
      expectPath(page, '/admin/users');
      const rows = page.locator('table tbody tr');
      assert.equal(await rows.count(), 1, `one pending vendor named ${VENDOR.family_name}; page text: ${await pageText(page)}`);
      assert.ok((await rows.first().innerText()).includes(VENDOR.username), 'the vendor is the match');
      await checkPage(page, 'admin-users-filtered');
      S.vendorId = (await rows.first().locator('a').first().getAttribute('href')).split('/').pop();

      await goto(page, `${baseUrl}/admin/users?q=&state=&type=officer&agency=agency.gov.sg`);
      const officerRows = page.locator('table tbody tr');
      assert.equal(await officerRows.count(), 1, `one officer at agency.gov.sg; page text: ${await pageText(page)}`);
      S.adminId = (await officerRows.first().locator('a').first().getAttribute('href')).split('/').pop();

      await goto(page, `${baseUrl}/admin/users?q=nobody-matches-this&state=&type=&agency=`);
      assert.match(await pageText(page), /No users match/, 'the empty result says so');
      await checkPage(page, 'admin-users-none');
    });

    await step(t, '/admin/users/<id>: the pending vendor and the administrator', async () => {
      await goto(page, `${baseUrl}/admin/users/${S.vendorId}`);
      await expectH1(page, `${VENDOR.given_name} ${VENDOR.family_name}`);
      assert.equal(await field(page, 'days').count(), 1, 'a pending account can have its deadline extended');
      await checkPage(page, 'admin-user-pending');
      await goto(page, `${baseUrl}/admin/users/${S.adminId}`);
      await expectH1(page, ADMIN.given_name);
      await checkPage(page, 'admin-user-active');
    });

    await step(t, '/admin/outbox and one message', async () => {
      await goto(page, `${baseUrl}/admin/outbox`);
      await checkPage(page, 'admin-outbox');
      const link = page.locator('main a[href^="/admin/outbox/"]').first();
      assert.ok((await link.count()) > 0, `the outbox lists the invitation email; page text: ${await pageText(page)}`);
      await clickAndWait(page, link);
      expectPath(page, /^\/admin\/outbox\/[^/]+$/);
      await checkPage(page, 'admin-outbox-message');
    });

    await step(t, '/admin/policies (nothing published, so the wizard has no policy step)', async () => {
      await goto(page, `${baseUrl}/admin/policies`);
      await expectH1(page, 'Policies');
      await checkPage(page, 'admin-policies');
    });

    await step(t, '/admin', async () => {
      await goto(page, `${baseUrl}/admin`);
      await checkPage(page, 'admin-home');
    });
  });
});

test('the vendor completes the first-sign-in wizard (authenticator, phone, password)', { timeout: 180_000 }, async (t) => {
  assert.ok(S.vendor, 'the vendor registered (previous test)');
  await withChecks(t, 'wizard', async (_checkPage, track) => {
    const page = track(S.vendor);
    const { baseUrl } = S;
    const message = await S.sms.waitFor(
      (m) => m.to === VENDOR_E164 && /initial password/i.test(m.body),
      MESSAGE_WAIT_MS,
      `the SMS to ${VENDOR_E164} with the initial password`,
    );
    const initial = message.body.match(/initial password is\s+(\S+)/i)?.[1]?.replace(/[.,;]$/, '');
    assert.ok(initial, `initial password in ${JSON.stringify(message.body)}`);

    await step(t, 'username and initial password', async () => {
      await goto(page, `${baseUrl}/signin`);
      await field(page, 'username').fill(VENDOR.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(initial);
      await clickAndWait(page, button(page, 'Sign in'));
      expectPath(page, '/signin/setup/authenticator');
    });
    await step(t, 'authenticator (key captured for later)', async () => {
      const keyText = (await page.locator('#totp-key').innerText()).trim();
      totp.remember(baseUrl, VENDOR.username, keyText);
      await field(page, 'code').fill(await totp.nextCode(baseUrl, VENDOR.username));
      await clickAndWait(page, button(page, 'Next'));
      expectPath(page, '/signin/setup/phone');
    });
    await step(t, 'phone check', async () => {
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
    });
    await step(t, 'new password; no policies, so the sign-in completes', async () => {
      await field(page, 'current_password').fill(initial);
      await field(page, 'new_password').fill(VENDOR_PASSWORD);
      await field(page, 'confirm_password').fill(VENDOR_PASSWORD);
      await clickAndWait(page, button(page, 'Next'));
      assert.ok(!pathOf(page).startsWith('/signin'), `the wizard should be done; at ${page.url()}; page text: ${await pageText(page)}`);
      S.vendorActive = true;
    });
  });
});

test('My account: /account, /account/password (weak password error), /account/mfa/add', { timeout: 120_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is signed in (previous test)');
  await withChecks(t, 'account', async (checkPage, track) => {
    const page = track(S.vendor);
    const { baseUrl } = S;

    await step(t, '/account overview', async () => {
      await goto(page, `${baseUrl}/account`);
      await expectH1(page, 'My account');
      assert.equal(await field(page, 'given_name').inputValue(), VENDOR.given_name, 'the profile form is prefilled');
      const text = await pageText(page, 6_000);
      assert.ok(text.includes(VENDOR.username), `the username is shown; page text: ${text}`);
      assert.equal(await page.locator('#mfa-section table tbody tr').count(), 1, 'one authenticator app listed');
      assert.ok((await page.locator('#sessions-section table tbody tr').count()) >= 1, 'the sessions are listed');
      await checkPage(page, 'account');
    });

    await step(t, '/account: save details (notice)', async () => {
      await field(page, 'department').fill(`${VENDOR.department} (Platforms)`);
      const res = await clickAndWait(page, button(page, 'Save details'));
      await expectStatus(page, res, 200, 'saving the profile');
      const notice = (await page.locator('.notice').allInnerTexts()).join(' ');
      assert.match(notice, /saved/i, `notice after saving: ${notice}`);
      await checkPage(page, 'account-saved');
    });

    await step(t, '/account: send a code to a new mobile number (code form shown)', async () => {
      await field(page, 'mobile_country').selectOption('+65');
      await field(page, 'mobile').fill('98760000');
      const res = await clickAndWait(page, button(page, 'Send code'));
      await expectStatus(page, res, 200, 'sending a code to a new mobile number');
      assert.equal(await field(page, 'code').count(), 1, `the code form is shown; page text: ${await pageText(page)}`);
      await checkPage(page, 'account-mobile-code');
    });

    await step(t, '/account/password with a weak new password', async () => {
      await goto(page, `${baseUrl}/account/password`);
      await expectH1(page, 'Change your password');
      await checkPage(page, 'account-password');
      await field(page, 'current_password').fill(VENDOR_PASSWORD);
      await field(page, 'new_password').fill(WEAK_PASSWORD);
      await field(page, 'confirm_password').fill(WEAK_PASSWORD);
      const res = await clickAndWait(page, button(page, 'Change password'));
      await expectStatus(page, res, 422, 'a weak new password');
      await expectH1(page, 'Change your password');
      assert.match(await fieldError(page, 'new_password'), /stronger password|weak|guess/i, 'the weak-password message');
      await expectInvalid(page, 'new_password');
      await checkPage(page, 'account-password-weak');
    });

    await step(t, '/account/mfa/add (enrolment page, a wrong code first)', async () => {
      await goto(page, `${baseUrl}/account/mfa/add`);
      await expectH1(page, 'Add an authenticator app');
      assert.equal(await page.locator('figure.qr svg').count(), 1, 'the QR code is shown');
      await checkPage(page, 'account-mfa-add');
      await field(page, 'code').fill('000000');
      const res = await clickAndWait(page, button(page, 'Add app'));
      assert.ok(res.status() >= 400, `a wrong code is refused; got ${res.status()}`);
      await expectH1(page, 'Add an authenticator app');
      await checkPage(page, 'account-mfa-add-error');
    });

    await step(t, '/account/apps', async () => {
      await goto(page, `${baseUrl}/account/apps`);
      await checkPage(page, 'account-apps');
    });
  });
});

test('account chooser: two signed-in accounts in one browser at /signin/choose', { timeout: 120_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is active (previous tests)');
  await withChecks(t, 'chooser', async (checkPage, track) => {
    const page = track(S.admin);
    const { baseUrl } = S;

    await step(t, 'the administrator signs in the vendor too (/signin?reauth=1)', async () => {
      await goto(page, `${baseUrl}/signin?reauth=1&next=%2Faccount`);
      expectPath(page, '/signin', 'reauth shows the sign-in page even when signed in');
      await signIn(page, baseUrl, VENDOR.username, VENDOR_PASSWORD, { checks: false });
    });

    await step(t, '/signin/choose lists both accounts', async () => {
      await goto(page, `${baseUrl}/signin/choose?next=/account`);
      await expectH1(page, 'Choose an account');
      const choices = page.locator('button.account-choice');
      assert.equal(await choices.count(), 2, `two accounts to choose from; page text: ${await pageText(page)}`);
      const text = await pageText(page);
      assert.ok(text.includes(ADMIN.username) && text.includes(VENDOR.username), `both accounts named; page text: ${text}`);
      await checkPage(page, 'chooser');
    });

    await step(t, 'the Docs portal\'s "Login with Tessera" shows the chooser; choosing the vendor returns their claims', async () => {
      S.portal = await startDocsPortal(S.server);
      await goto(page, `${S.portal.baseUrl}/`);
      await clickAndWait(page, page.getByRole('link', { name: 'Login with Tessera', exact: true }));
      assert.equal(new URL(page.url()).origin, baseUrl, `"Login with Tessera" leads to Tessera; at ${page.url()}`);
      expectPath(page, '/signin/choose', 'two signed-in accounts: the chooser');
      await expectH1(page, 'Choose an account');
      assert.equal(await page.locator('button.account-choice').count(), 2, 'two accounts to choose from');
      await checkPage(page, 'chooser-from-portal');
      await clickAndWait(page, choice(page, VENDOR.username));
      if (new URL(page.url()).origin === baseUrl && pathOf(page).startsWith('/authorize')) {
        t.diagnostic(`consent asked at ${page.url()}`);
        await checkPage(page, 'consent');
        await clickAndWait(page, page.getByRole('button', { name: /allow|continue|accept/i }).first());
      }
      assert.equal(new URL(page.url()).origin, S.portal.baseUrl, `back at the portal; at ${page.url()}; page text: ${await pageText(page)}`);
      const text = await pageText(page, 6_000);
      assert.ok(text.includes(VENDOR.username), `the portal shows the vendor's claims; page text: ${text}`);
    });

    await step(t, 'choosing the administrator continues as them', async () => {
      await goto(page, `${baseUrl}/signin/choose?next=/account`);
      await clickAndWait(page, choice(page, ADMIN.username));
      expectPath(page, '/account');
      assert.match(await pageText(page, 6_000), new RegExp(ADMIN.email.replace('.', '\\.')), 'My account of the administrator');
    });
  });
});

test('self-service password reset for the vendor: SMS code, authenticator code, new password; old sessions ended', { timeout: 180_000 }, async (t) => {
  assert.ok(S.vendorActive, 'the vendor is active (previous tests)');
  await withChecks(t, 'reset', async (checkPage, track) => {
    const { baseUrl } = S;
    const context = await newContext();
    const page = track(await context.newPage());

    await step(t, '/signin links to /signin/forgot', async () => {
      await goto(page, `${baseUrl}/signin`);
      await field(page, 'username').fill(VENDOR.username);
      await clickAndWait(page, button(page, 'Next'));
      const forgot = page.locator('a[href^="/signin/forgot"]');
      assert.ok((await forgot.count()) > 0, `the password page links to the reset; page text: ${await pageText(page)}`);
      await clickAndWait(page, forgot.first());
      expectPath(page, '/signin/forgot');
    });

    await step(t, '/signin/forgot: empty username first, then the vendor', async () => {
      await expectH1(page, 'Reset your password');
      await checkPage(page, 'forgot');
      const bad = await clickAndWait(page, button(page, 'Send code'));
      await expectStatus(page, bad, 422, 'an empty username');
      assert.ok((await fieldError(page, 'username')).length > 0, 'the username message');
      await expectInvalid(page, 'username');
      await checkPage(page, 'forgot-error');
      await field(page, 'username').fill(VENDOR.username);
    });

    const before = S.sms.messages.length;
    await step(t, '/signin/forgot/code: a wrong SMS code, then the right one', async () => {
      await clickAndWait(page, button(page, 'Send code'));
      expectPath(page, '/signin/forgot/code');
      await expectH1(page, 'Enter the code from the SMS');
      await checkPage(page, 'forgot-code');
      const sms = await S.sms.waitFor(
        (m) => S.sms.messages.indexOf(m) >= before && m.to === VENDOR_E164 && /\b\d{6}\b/.test(m.body),
        MESSAGE_WAIT_MS,
        `the reset SMS code to ${VENDOR_E164}`,
      );
      const code = sms.body.match(/\b(\d{6})\b/)[1];
      await field(page, 'code').fill(code === '111111' ? '222222' : '111111');
      const res = await clickAndWait(page, button(page, 'Next'));
      await expectStatus(page, res, 422, 'a wrong SMS code');
      assert.match(await fieldError(page, 'code'), /not right|wrong|incorrect/i, 'the wrong-code message');
      await expectInvalid(page, 'code');
      await checkPage(page, 'forgot-code-error');
      await field(page, 'code').fill(code);
      await clickAndWait(page, button(page, 'Next'));
      expectPath(page, '/signin/forgot/authenticator');
    });

    await step(t, '/signin/forgot/authenticator: a wrong code, then the right one', async () => {
      await expectH1(page, 'Enter your authenticator code');
      await checkPage(page, 'forgot-authenticator');
      await field(page, 'code').fill(wrongTotp(baseUrl, VENDOR.username));
      const res = await clickAndWait(page, button(page, 'Next'));
      await expectStatus(page, res, 422, 'a wrong authenticator code');
      assert.match(await fieldError(page, 'code'), /not right|wrong|incorrect/i, 'the wrong-code message');
      await checkPage(page, 'forgot-authenticator-error');
      await field(page, 'code').fill(await totp.nextCode(baseUrl, VENDOR.username));
      await clickAndWait(page, button(page, 'Next'));
      expectPath(page, '/signin/forgot/password');
    });

    await step(t, '/signin/forgot/password: weak first, then a good one', async () => {
      await expectH1(page, 'Choose a new password');
      await checkPage(page, 'forgot-password');
      await field(page, 'new_password').fill(WEAK_PASSWORD);
      await field(page, 'confirm_password').fill(WEAK_PASSWORD);
      const res = await clickAndWait(page, button(page, 'Change password'));
      await expectStatus(page, res, 422, 'a weak new password');
      assert.ok((await fieldError(page, 'new_password')).length > 0, 'the weak-password message');
      await expectInvalid(page, 'new_password');
      await checkPage(page, 'forgot-password-weak');
      await field(page, 'new_password').fill(VENDOR_RESET_PASSWORD);
      await field(page, 'confirm_password').fill(VENDOR_RESET_PASSWORD);
      await clickAndWait(page, button(page, 'Change password'));
      expectPath(page, '/signin', 'after the reset');
      await checkPage(page, 'forgot-done-signin');
    });

    await step(t, "the vendor's old session (own browser) was ended", async () => {
      await S.vendor.goto(`${baseUrl}/account`);
      assert.ok(pathOf(S.vendor).startsWith('/signin'), `the old session should be gone; /account shows ${S.vendor.url()}: ${await pageText(S.vendor)}`);
    });

    await step(t, "the chooser no longer lists the vendor's session in the administrator's browser", async () => {
      await S.admin.goto(`${baseUrl}/signin/choose?next=/`);
      const text = await pageText(S.admin);
      assert.ok(!text.includes(VENDOR.username), `the vendor's session should be ended; chooser: ${text}`);
    });

    await step(t, 'the old password is refused; the new one signs in', async () => {
      await goto(page, `${baseUrl}/signin`);
      await field(page, 'username').fill(VENDOR.username);
      await clickAndWait(page, button(page, 'Next'));
      await field(page, 'password').fill(VENDOR_PASSWORD);
      await clickAndWait(page, button(page, 'Sign in'));
      expectPath(page, '/signin/password', 'the old password is refused');
      await signIn(page, baseUrl, VENDOR.username, VENDOR_RESET_PASSWORD, { checks: false });
      await goto(page, `${baseUrl}/account`);
      expectPath(page, '/account');
    });
    await context.close();
  });
});

test('officer self-registration: /get-started, /get-started/code (emailed code), details, /my-request', { timeout: 120_000 }, async (t) => {
  await withChecks(t, 'get-started', async (checkPage, track) => {
    const { baseUrl } = S;
    const context = await newContext();
    const page = track(await context.newPage());

    await step(t, '/get-started: a non-agency address first', async () => {
      await goto(page, `${baseUrl}/get-started`);
      await expectH1(page, 'Get started');
      await checkPage(page, 'get-started');
      await field(page, 'email').fill('someone@example.com');
      const res = await clickAndWait(page, button(page, 'Send code'));
      await expectStatus(page, res, 422, 'a non-agency address');
      assert.ok((await fieldError(page, 'email')).length > 0, 'the email message');
      await expectInvalid(page, 'email');
      await checkPage(page, 'get-started-error');
    });

    await step(t, '/get-started/code: a wrong code, then the emailed one', async () => {
      await field(page, 'email').fill(OFFICER_EMAIL);
      await clickAndWait(page, button(page, 'Send code'));
      expectPath(page, '/get-started/code');
      await expectH1(page, 'Enter your code');
      await checkPage(page, 'get-started-code');
      const mail = await S.smtp.waitFor(
        (m) => addressedTo(m, OFFICER_EMAIL) && /\b\d{6}\b/.test(m.body),
        MESSAGE_WAIT_MS,
        `the code email to ${OFFICER_EMAIL}`,
      );
      const code = mail.body.match(/\b(\d{6})\b/)[1];
      await field(page, 'code').fill(code === '111111' ? '222222' : '111111');
      const res = await clickAndWait(page, button(page, 'Continue'));
      await expectStatus(page, res, 422, 'a wrong emailed code');
      assert.ok((await fieldError(page, 'code')).length > 0, 'the wrong-code message');
      await expectInvalid(page, 'code');
      await checkPage(page, 'get-started-code-error');
      await field(page, 'code').fill(code);
      await clickAndWait(page, button(page, 'Continue'));
      expectPath(page, '/get-started/details');
    });

    await step(t, '/get-started/details, then /my-request', async () => {
      await expectH1(page, 'Your details');
      await checkPage(page, 'get-started-details');
      await field(page, 'given_name').fill(OFFICER.given_name);
      await field(page, 'family_name').fill(OFFICER.family_name);
      await field(page, 'mobile_country').selectOption('+65');
      await field(page, 'mobile').fill(OFFICER.mobile);
      await field(page, 'department').fill(OFFICER.department);
      await clickAndWait(page, button(page, 'Request account'));
      expectPath(page, '/my-request');
      assert.match(await pageText(page, 4_000), new RegExp(OFFICER.given_name), 'the request page names the officer');
      await checkPage(page, 'my-request');
    });
    await context.close();
  });
});
