// An authenticator app for tests: TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits)
// with keys enrolled per server and username, and codes that are never replays.
//
// The server accepts the previous, current and next time step but refuses a step that was
// used before. So each sign-in takes a later step than the last one used for that user:
// the current step, or the next one when the current was used; when the next was used
// too, it waits for the clock to move on.
import { createHmac } from 'node:crypto';

export const STEP_SECONDS = 30;
export const DIGITS = 6;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Decodes RFC 4648 base32 ("ABCD EFGH …": spaces, padding and case ignored). */
export function decodeBase32(text) {
  const bytes = [];
  let buffer = 0;
  let bits = 0;
  for (const c of text.toUpperCase().replace(/[\s=-]/g, '')) {
    const v = ALPHABET.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${JSON.stringify(c)} in ${JSON.stringify(text)}`);
    buffer = ((buffer << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** The time step of a Unix time in milliseconds (default: now). */
export function stepAt(ms = Date.now()) {
  return Math.floor(ms / 1000 / STEP_SECONDS);
}

/** The code of `secret` (a Buffer) for time step `step` (RFC 4226 HOTP over the step). */
export function codeForStep(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', secret).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** DIGITS).padStart(DIGITS, '0');
}

// (base URL, username) -> { secret, lastStep }
const keys = new Map();
const keyOf = (baseUrl, username) => `${baseUrl}\n${username}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Records the key shown on the enrolment page (base32 text) for this user on this server. */
export function remember(baseUrl, username, keyText) {
  keys.set(keyOf(baseUrl, username), { secret: decodeBase32(keyText), lastStep: 0 });
}

/** True when an authenticator is enrolled (remembered) for this user on this server. */
export function isEnrolled(baseUrl, username) {
  return keys.has(keyOf(baseUrl, username));
}

/**
 * A code the server accepts now and has not seen: the current step's, or the next one's
 * when the current was used. When the next step was used as well, waits until the clock
 * reaches it, so that the step after it is within the server's window.
 */
export async function nextCode(baseUrl, username) {
  const key = keys.get(keyOf(baseUrl, username));
  if (!key) throw new Error(`no authenticator enrolled for ${username} at ${baseUrl}`);
  let now = stepAt();
  while (key.lastStep > now) {
    const wait = (now + 1) * STEP_SECONDS * 1000 - Date.now() + 50;
    await sleep(Math.max(wait, 50));
    now = stepAt();
  }
  const step = Math.max(now, key.lastStep + 1);
  key.lastStep = step;
  return codeForStep(key.secret, step);
}

/** The code for `offset` steps from now, ignoring what was used (for replay tests). */
export function codeAt(baseUrl, username, offset = 0) {
  const key = keys.get(keyOf(baseUrl, username));
  if (!key) throw new Error(`no authenticator enrolled for ${username} at ${baseUrl}`);
  return codeForStep(key.secret, stepAt() + offset);
}
