// End-to-end (issue #4, "Done when" 1): a sponsor invites a vendor by email; the real SMTP
// sink receives the registration link; the vendor registers in headless Chromium, first
// with a bad mobile number (the error is shown next to the field and the other fields
// keep their values), then correctly; the sink receives the onboarding email with the
// username and activation date, and the SMS webhook receiver gets the initial password.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTessera } from '../lib/server.mjs';
import { startSmsReceiver, startSmtpSink } from '../lib/sinks.mjs';
import { ARTIFACTS_DIR, checkAccessibility, launchBrowser, screenshots } from '../lib/browser.mjs';
import { signIn } from '../lib/signin.mjs';

const ADMIN = {
  username: 'admin',
  given_name: 'Ada',
  family_name: 'Lovelace',
  email: 'ada@agency.gov.sg',
  mobile: '+6591234567',
};
const ADMIN_PASSWORD = 'correct horse battery staple 42';

const VENDOR_EMAIL = 'vendor.one@vendor.example.com';
const VENDOR = {
  username: 'vendor1',
  given_name: 'Vera',
  family_name: 'Vendorson',
  department: 'Digital Services Division',
};
const BAD_MOBILE = '12ab';
const GOOD_MOBILE = '91234567';
const VENDOR_E164 = '+6591234567';

const MESSAGE_WAIT_MS = 15_000;

// ---------------------------------------------------------------- helpers

const pathOf = (page) => new URL(page.url()).pathname;

/** The form control with the given name attribute (must be unique on the page). */
const field = (page, name) => page.locator(`form [name="${name}"]`);

async function pageText(page, max = 1_500) {
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
  const ok = h1s.some((t) => (expected instanceof RegExp ? expected.test(t) : t.includes(expected)));
  assert.ok(
    ok,
    `expected an <h1> matching ${expected instanceof RegExp ? expected : JSON.stringify(expected)} at ${page.url()}; ` +
      `found h1: ${JSON.stringify(h1s)}; page text: ${await pageText(page)}`,
  );
}

function expectPath(page, expected) {
  const actual = pathOf(page);
  const ok = expected instanceof RegExp ? expected.test(actual) : actual === expected;
  assert.ok(ok, `expected URL path ${expected}, got ${page.url()}`);
}

async function expectStatus(page, response, expected, what) {
  assert.ok(response, `${what}: no navigation response`);
  assert.equal(
    response.status(),
    expected,
    `${what}: expected HTTP ${expected}, got ${response.status()} at ${page.url()}; page text: ${await pageText(page)}`,
  );
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

/** True when an email's To header or SMTP envelope names `address`. */
function addressedTo(message, address) {
  const want = address.toLowerCase();
  return (
    message.to.toLowerCase().includes(want) ||
    message.envelopeTo.some((rcpt) => rcpt.toLowerCase() === want)
  );
}

const excerpt = (s, max = 2_000) => (s.length > max ? `${s.slice(0, max)}…` : s);

// ------------------------------------------------------------------ test

test(
  'invitation lifecycle: sponsor invites, invitee registers (bad mobile, then good), onboarding email and SMS arrive',
  { timeout: 300_000 },
  async (t) => {
    let smtp;
    let sms;
    let server;
    let browser;
    let page;
    const pageProblems = [];
    try {
      smtp = await startSmtpSink();
      sms = await startSmsReceiver({ path: '/sms' });
      t.diagnostic(`SMTP sink on ${smtp.url}; SMS receiver on ${sms.url}`);

      server = await step(t, 'start server with SMTP and SMS webhook', () =>
        startTessera({
          env: {
            TESSERA_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
            TESSERA_SMS_WEBHOOK_URL: `http://127.0.0.1:${sms.port}/sms`,
          },
        }),
      );
      const { baseUrl, setupUrl } = server;

      browser = await launchBrowser();
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      context.setDefaultTimeout(10_000);
      context.setDefaultNavigationTimeout(20_000);
      watchContext(context, pageProblems);
      page = await context.newPage();

      await step(t, 'create the first administrator through the setup link', async () => {
        const res = await page.goto(setupUrl);
        await expectStatus(page, res, 200, `GET ${setupUrl}`);
        await expectH1(page, 'Set up Tessera');
        for (const [name, value] of Object.entries(ADMIN)) await field(page, name).fill(value);
        await field(page, 'password').fill(ADMIN_PASSWORD);
        await field(page, 'password_confirm').fill(ADMIN_PASSWORD);
        await clickAndWait(page, page.getByRole('button', { name: 'Create administrator', exact: true }));
        expectPath(page, '/signin');
      });

      await step(t, 'sign in as the administrator (password, then authenticator enrolment)', async () => {
        await signIn(page, baseUrl, ADMIN.username, ADMIN_PASSWORD, {
          name: 'lifecycle-signin',
          log: (line) => t.diagnostic(line),
        });
        assert.notEqual(
          pathOf(page),
          '/signin',
          `administrator sign-in failed; page text: ${await pageText(page)}`,
        );
      });

      await step(t, 'sponsor invites the vendor by email', async () => {
        const res = await page.goto(`${baseUrl}/invitations`);
        await expectStatus(page, res, 200, 'GET /invitations as the platform administrator');
        await expectH1(page, 'Invitations');
        await field(page, 'email').fill(VENDOR_EMAIL);
        const sent = await clickAndWait(page, page.getByRole('button', { name: 'Send invitation', exact: true }));
        await expectStatus(page, sent, 200, 'after "Send invitation"');
        expectPath(page, '/invitations');
        const notices = (await page.locator('.notice').allInnerTexts()).map((s) => s.trim());
        assert.ok(
          notices.includes('Invitation sent.'),
          `expected the notice "Invitation sent."; found notices ${JSON.stringify(notices)}; page text: ${await pageText(page)}`,
        );
        const row = page.locator('table tbody tr').filter({ hasText: VENDOR_EMAIL });
        assert.equal(
          await row.count(),
          1,
          `expected one row for ${VENDOR_EMAIL} in the invitations table; page text: ${await pageText(page)}`,
        );
        const status = (await row.locator('.status').innerText()).trim();
        assert.match(status, /sent/i, `status of the new invitation in the table`);
      });

      const registrationUrl = await step(t, 'the SMTP sink receives the invitation with its link', async () => {
        const mail = await smtp.waitFor(
          (m) => addressedTo(m, VENDOR_EMAIL) && /\/register\?token=/.test(m.body),
          MESSAGE_WAIT_MS,
          `the invitation email to ${VENDOR_EMAIL} with a /register?token= link`,
        );
        t.diagnostic(`invitation email: subject ${JSON.stringify(mail.subject)}, encoding ${mail.contentTransferEncoding}`);
        assert.ok(
          mail.envelopeTo.map((a) => a.toLowerCase()).includes(VENDOR_EMAIL),
          `SMTP envelope recipients ${JSON.stringify(mail.envelopeTo)} should include ${VENDOR_EMAIL}`,
        );
        const links = mail.body.match(/https?:\/\/[^\s<>"]+\/register\?token=[A-Za-z0-9_-]+/g) || [];
        assert.equal(links.length, 1, `expected exactly one registration link in the email body:\n${excerpt(mail.body)}`);
        const link = new URL(links[0]);
        assert.equal(
          link.origin,
          baseUrl,
          `the registration link must point at this server (${baseUrl}); got ${links[0]}`,
        );
        assert.match(link.searchParams.get('token') || '', /^[A-Za-z0-9_-]{16,}$/, `token in ${links[0]}`);
        return links[0];
      });

      await step(t, 'the sponsor signs out', async () => {
        const signOut = page.getByRole('button', { name: 'Sign out', exact: true });
        await clickAndWait(page, signOut);
        expectPath(page, '/signin');
      });

      await step(t, 'the invitee opens the registration link', async () => {
        const res = await page.goto(registrationUrl);
        await expectStatus(page, res, 200, `GET ${registrationUrl}`);
        await expectH1(page, 'Register for Tessera');
        const lead = await pageText(page, 3_000);
        assert.ok(
          lead.includes(VENDOR_EMAIL),
          `the registration page should name the invited address ${VENDOR_EMAIL}; page text: ${lead}`,
        );
      });

      await step(t, 'submit with a bad mobile number: error shown, other fields kept', async () => {
        await field(page, 'username').fill(VENDOR.username);
        await field(page, 'given_name').fill(VENDOR.given_name);
        await field(page, 'family_name').fill(VENDOR.family_name);
        await field(page, 'mobile_country').selectOption('+65');
        await field(page, 'mobile').fill(BAD_MOBILE);
        await field(page, 'department').fill(VENDOR.department);
        const res = await clickAndWait(page, page.getByRole('button', { name: 'Register', exact: true }));
        await expectStatus(page, res, 422, 'registration with a bad mobile number');
        await expectH1(page, 'Register for Tessera');

        const mobileError = page.locator('#mobile-error');
        assert.equal(
          await mobileError.count(),
          1,
          `expected an element #mobile-error with the mobile field's message; page text: ${await pageText(page)}`,
        );
        const message = (await mobileError.innerText()).trim();
        assert.match(message, /mobile number/i, `#mobile-error should talk about the mobile number; got ${JSON.stringify(message)}`);
        assert.ok(await mobileError.isVisible(), '#mobile-error must be visible');

        // Only the mobile field is wrong; any other field error means the test data was refused.
        const fieldErrors = await page
          .locator('form .field-error')
          .evaluateAll((els) => els.map((e) => `${e.id || '(no id)'}: ${e.textContent.trim()}`));
        assert.deepEqual(
          fieldErrors.map((e) => e.split(':')[0]),
          ['mobile-error'],
          `expected only the mobile field to be in error; field errors: ${JSON.stringify(fieldErrors)}`,
        );

        // The error is tied to the field for assistive technology.
        const mobileInput = field(page, 'mobile');
        assert.equal(await mobileInput.getAttribute('aria-invalid'), 'true', 'the mobile input should be aria-invalid="true"');
        const describedBy = await page.evaluate(() => {
          const input = document.getElementById('mobile');
          const ids = [input, input?.closest('fieldset')]
            .filter(Boolean)
            .flatMap((el) => (el.getAttribute('aria-describedby') || '').split(/\s+/));
          return ids.filter(Boolean);
        });
        assert.ok(
          describedBy.includes('mobile-error'),
          `the mobile input or its fieldset should reference #mobile-error in aria-describedby; got ${JSON.stringify(describedBy)}`,
        );

        const kept = {};
        for (const name of ['username', 'given_name', 'family_name', 'department']) {
          kept[name] = await field(page, name).inputValue();
        }
        assert.deepEqual(
          kept,
          {
            username: VENDOR.username,
            given_name: VENDOR.given_name,
            family_name: VENDOR.family_name,
            department: VENDOR.department,
          },
          'the other fields must keep what was typed after the re-render',
        );
        assert.equal(await field(page, 'mobile_country').inputValue(), '+65', 'the chosen country code must be kept');
        assert.equal(await field(page, 'mobile').inputValue(), BAD_MOBILE, 'the bad mobile number must be kept to correct it');

        assert.equal(
          await page.locator('form [name="token"]').inputValue(),
          new URL(registrationUrl).searchParams.get('token'),
          'the re-rendered form must still carry the invitation token',
        );

        await checkAccessibility(page, 'register-error');
        await screenshots(page, 'register-error');
      });

      let pageDeadline;
      await step(t, 'submit with a good mobile number: registration complete', async () => {
        await field(page, 'mobile').fill(GOOD_MOBILE);
        const res = await clickAndWait(page, page.getByRole('button', { name: 'Register', exact: true }));
        await expectStatus(page, res, 200, 'registration with a good mobile number');
        await expectH1(page, 'Registration complete');
        const text = await pageText(page, 3_000);
        assert.ok(text.includes(VENDOR.username), `the done page should show the username ${VENDOR.username}; page text: ${text}`);
        pageDeadline = text.match(/Activate your account by (\d{1,2} [A-Z][a-z]+ \d{4})/)?.[1];
        t.diagnostic(`activation deadline on the done page: ${pageDeadline}`);
        await checkAccessibility(page, 'register-done');
        await screenshots(page, 'register-done');
      });

      const onboarding = await step(t, 'the SMTP sink receives the onboarding email', async () => {
        const mail = await smtp.waitFor(
          (m) => addressedTo(m, VENDOR_EMAIL) && !/\/register\?token=/.test(m.body),
          MESSAGE_WAIT_MS,
          `the onboarding email to ${VENDOR_EMAIL}`,
        );
        t.diagnostic(`onboarding email: subject ${JSON.stringify(mail.subject)}, encoding ${mail.contentTransferEncoding}`);
        const body = mail.body.replace(/\s+/g, ' ');
        assert.ok(
          new RegExp(`\\b${VENDOR.username}\\b`).test(body),
          `the onboarding email should contain the username ${VENDOR.username}; body:\n${excerpt(mail.body)}`,
        );
        assert.ok(
          body.includes('Use this username, not your email address'),
          `the onboarding email should say "Use this username, not your email address"; body:\n${excerpt(mail.body)}`,
        );
        const date = body.match(/Activate your account by (\d{1,2} [A-Z][a-z]+ \d{4})/)?.[1];
        assert.ok(date, `the onboarding email should give the activation date ("Activate your account by <date>"); body:\n${excerpt(mail.body)}`);
        const parsed = Date.parse(`${date} UTC`);
        assert.ok(!Number.isNaN(parsed), `activation date ${JSON.stringify(date)} should be a real date`);
        assert.ok(parsed > Date.now(), `activation date ${date} should be in the future`);
        if (pageDeadline) {
          assert.equal(date, pageDeadline, 'the email and the done page should give the same activation date');
        }
        return mail;
      });

      await step(t, 'the SMS receiver gets the initial password', async () => {
        const message = await sms.waitFor(
          (m) => m.to === VENDOR_E164 && /initial password/i.test(m.body),
          MESSAGE_WAIT_MS,
          `an SMS to ${VENDOR_E164} with the initial password`,
        );
        assert.equal(message.path, '/sms', 'the SMS webhook should be called at the configured path');
        const password = message.body.match(/initial password is\s+(\S+)/i)?.[1]?.replace(/[.,;]$/, '');
        assert.ok(
          password && password.length >= 8,
          `the SMS should carry an initial password of at least 8 characters; SMS body: ${JSON.stringify(message.body)}`,
        );
        assert.ok(
          !onboarding.body.includes(password),
          'the initial password must travel only by SMS, not in the onboarding email',
        );
        assert.equal(
          sms.messages.filter((m) => m.to === VENDOR_E164).length,
          1,
          `exactly one SMS to the vendor expected; got: ${sms.messages.map(sms.describe).join(' / ')}`,
        );
      });

      await step(t, 'the registration link is used up', async () => {
        const res = await page.goto(registrationUrl);
        assert.ok(
          res.status() >= 400 && res.status() < 500,
          `a used invitation link should answer 4xx, got ${res.status()}; page text: ${await pageText(page)}`,
        );
        await expectH1(page, /used/i);
        assert.equal(
          await page.locator('form [name="username"]').count(),
          0,
          `the used link must not show the registration form again; page text: ${await pageText(page)}`,
        );
      });

      assert.deepEqual(pageProblems, [], 'pages reported CSP violations or script errors');
    } catch (err) {
      if (page) {
        try {
          const file = path.join(ARTIFACTS_DIR, 'failure-lifecycle.png');
          await page.screenshot({ path: file, fullPage: true });
          t.diagnostic(`failure screenshot: ${file} (at ${page.url()})`);
        } catch {
          // ignore
        }
      }
      if (err && typeof err.message === 'string') {
        if (smtp) err.message += `\n--- emails received (${smtp.messages.length}) ---\n${smtp.messages.map(smtp.describe).join('\n')}`;
        if (sms) err.message += `\n--- SMS received (${sms.messages.length}) ---\n${sms.messages.map(sms.describe).join('\n')}`;
        if (server) err.message += `\n--- last server output ---\n${tail(server.output())}`;
      }
      throw err;
    } finally {
      if (browser) await browser.close();
      if (server) await server.stop();
      if (smtp) await smtp.close();
      if (sms) await sms.close();
    }
  },
);
