// One page check for issue #5, "Done when" 6: axe-core (no serious or critical
// violations), the STRICT form-field check (every visible input/select/textarea has a label
// with text, or aria-label/aria-labelledby, and the standard `autocomplete` token for its
// purpose; fields with no standard token must carry the attribute, e.g. "off"), and
// full-page screenshots at 1280 and 375 px (e2e/artifacts/<name>-1280.png, -375.png).
//
// axe and the screenshots are browser.mjs's (checkAccessibility, screenshots). The strict
// check is the one pages.test.mjs and onboarding.test.mjs keep privately, re-implemented
// here with the same rules (plus the two field names of /device and /account/passkeys).
import { checkAccessibility, screenshots } from './browser.mjs';

/** The standard autocomplete tokens ("autofill detail tokens") accepted, by field name. */
export const EXPECTED_AUTOCOMPLETE = {
  // With `webauthn`: the sign-in page offers passkeys in the field's autofill.
  username: ['username', 'username webauthn'],
  current_password: ['current-password'],
  new_password: ['new-password'],
  confirm_password: ['new-password'],
  password_confirm: ['new-password'],
  code: ['one-time-code'],
  user_code: ['one-time-code'], // /device: the code the device shows
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

/** Fields with no standard token: the attribute must be there ("off" or any value). */
export const NO_STANDARD_TOKEN = [
  'title', 'body', 'kind', 'status', // policies, invitations filter
  'label', // name of an authenticator app
  'passkey-name', // name of a passkey (/account/passkeys)
  'q', 'state', 'type', 'agency', // user filters
  'days', // extend the activation deadline
  'agency_domains', 'no_inbox', 'invitation_validity_days', 'activation_window_days',
  'seed_invitation_validity_days', 'reminder_days_before', 'lockout_max_failures', 'lockout_minutes',
];

/**
 * The strict field check: returns one line per problem (empty when the page passes).
 * `password` must be `new-password` on /setup and /signin/setup/*, else `current-password`.
 */
export async function strictFieldProblems(page) {
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
        const name = el.getAttribute('name') || el.id || '';
        const ident = `<${tag}${el.getAttribute('name') ? ` name="${el.getAttribute('name')}"` : ''}${el.id ? ` id="${el.id}"` : ''}${tag === 'input' ? ` type="${type}"` : ''}>`;

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

/**
 * Checks one page: axe-core (no serious/critical violation), the strict field check, and
 * screenshots at 1280 and 375 px as e2e/artifacts/<name>-{1280,375}.png. The screenshots
 * are saved even when a check fails (for review); then it throws one error listing every
 * finding.
 *
 * Options:
 *   fields   false skips the strict field check; pass it only with a `// KNOWN:` comment
 *            naming the bug at the call site (default true)
 *   axe      false skips axe, likewise only for a KNOWN bug (default true)
 *
 * @returns {Promise<{ minor: string[], screenshots: string[] }>} the moderate/minor axe
 *   findings (not blocking) and the screenshot files
 */
export async function checkPageA11y(page, name, { fields = true, axe = true } = {}) {
  const findings = [];
  const minor = [];
  const at = new URL(page.url()).pathname;
  if (axe) {
    try {
      for (const v of (await checkAccessibility(page, name)) || []) {
        minor.push(`${name} (${at}): [${v.impact}] ${v.id} on ${v.nodes.map((n) => n.target).join(', ')}`);
      }
    } catch (err) {
      // checkAccessibility runs axe, then browser.mjs's own (looser) field check, which the
      // strict check below replaces; only axe's findings count from it.
      if (!String(err.message).startsWith('form field check')) findings.push(err.message);
    }
  }
  if (fields) {
    for (const problem of await strictFieldProblems(page)) {
      findings.push(`strict form field check "${name}" (${page.url()}): ${problem}`);
    }
  }
  const files = await screenshots(page, name);
  if (findings.length > 0) {
    throw new Error(`${findings.length} accessibility / form-field finding(s) on "${name}":\n${findings.join('\n\n')}`);
  }
  return { minor, screenshots: files };
}
