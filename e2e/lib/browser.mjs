// Headless Chromium (Debian's /usr/bin/chromium) plus page checks: axe-core
// accessibility, form-field labelling/autocomplete, and screenshots.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ARTIFACTS_DIR = path.join(E2E_DIR, 'artifacts');

const require = createRequire(import.meta.url);

export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

let axeSource = null;
async function loadAxe() {
  if (axeSource === null) {
    const pkgDir = path.dirname(require.resolve('axe-core/package.json'));
    axeSource = await readFile(path.join(pkgDir, 'axe.min.js'), 'utf8');
  }
  return axeSource;
}

/**
 * Runs axe-core on the page and throws on any `serious` or `critical`
 * violation; then checks every visible form input (see checkFormFields).
 *
 * axe is injected with page.evaluate (CDP Runtime.evaluate), which the page's
 * CSP (`script-src 'self'`) does not apply to; page.addScriptTag with inline
 * content is blocked by that CSP and would also log a CSP violation.
 */
export async function checkAccessibility(page, name) {
  const hasAxe = await page.evaluate(() => typeof window.axe === 'object');
  if (!hasAxe) {
    await page.evaluate(await loadAxe());
  }
  const violations = await page.evaluate(async () => {
    const results = await window.axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({
        target: n.target.join(' '),
        html: n.html,
        summary: n.failureSummary,
      })),
    }));
  });
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (blocking.length > 0) {
    const lines = blocking.map((v) => {
      const nodes = v.nodes
        .slice(0, 5)
        .map((n) => `      - ${n.target}: ${n.html.slice(0, 200)}\n        ${(n.summary || '').replace(/\n/g, '\n        ')}`)
        .join('\n');
      const more = v.nodes.length > 5 ? `\n      ... and ${v.nodes.length - 5} more` : '';
      return `  * [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})\n${nodes}${more}`;
    });
    throw new Error(
      `accessibility check "${name}" (${page.url()}): ${blocking.length} serious/critical axe violation(s):\n${lines.join('\n')}`,
    );
  }
  await checkFormFields(page, name);
  return violations; // minor/moderate ones, for diagnostics
}

// Input types that are buttons rather than fields: no label/autocomplete needed.
const BUTTON_TYPES = ['hidden', 'submit', 'button', 'reset', 'image'];
// Types the HTML spec does not allow `autocomplete` on (it would be invalid
// markup to demand it there); they still need a <label>.
const NO_AUTOCOMPLETE_TYPES = ['checkbox', 'radio', 'file'];

/**
 * Every visible <input> (except hidden/submit and other button types) must have
 * an associated <label> (input.labels) and an `autocomplete` attribute (except
 * checkbox/radio/file, where the attribute is not allowed). Throws naming each
 * offending input.
 */
export async function checkFormFields(page, name) {
  const problems = await page.evaluate(
    ({ buttonTypes, noAutocompleteTypes }) => {
      const out = [];
      for (const input of document.querySelectorAll('input')) {
        const type = (input.getAttribute('type') || 'text').toLowerCase();
        if (buttonTypes.includes(type)) continue;
        const style = getComputedStyle(input);
        const visible =
          input.getClientRects().length > 0 &&
          style.visibility !== 'hidden' &&
          style.display !== 'none';
        if (!visible) continue;
        const ident =
          (input.name && `name="${input.name}"`) ||
          (input.id && `id="${input.id}"`) ||
          input.outerHTML.slice(0, 120);
        const labelled = input.labels && Array.from(input.labels).some((l) => l.textContent.trim() !== '');
        if (!labelled) out.push(`<input ${ident} type="${type}"> has no associated <label> with text`);
        if (!noAutocompleteTypes.includes(type) && !input.hasAttribute('autocomplete')) {
          out.push(`<input ${ident} type="${type}"> has no autocomplete attribute`);
        }
      }
      return out;
    },
    { buttonTypes: BUTTON_TYPES, noAutocompleteTypes: NO_AUTOCOMPLETE_TYPES },
  );
  if (problems.length > 0) {
    throw new Error(`form field check "${name}" (${page.url()}):\n  - ${problems.join('\n  - ')}`);
  }
}

/**
 * Saves full-page PNGs at 1280 px and 375 px viewport width as
 * e2e/artifacts/<name>-1280.png and <name>-375.png; restores the viewport.
 */
export async function screenshots(page, name) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const original = page.viewportSize();
  const files = [];
  try {
    for (const [width, height] of [[1280, 800], [375, 812]]) {
      await page.setViewportSize({ width, height });
      const file = path.join(ARTIFACTS_DIR, `${name}-${width}.png`);
      await page.screenshot({ path: file, fullPage: true });
      files.push(file);
    }
  } finally {
    if (original) await page.setViewportSize(original);
  }
  return files;
}
