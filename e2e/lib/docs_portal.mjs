// Starts the example relying service (examples/docs-portal) against a running Tessera
// for an end-to-end test: registers it as an app with the `tessera admin` CLI on the
// server's own database (cwd = the server's temporary directory, as smoke.sh does), or
// takes the credentials of an app registered elsewhere, then spawns the `docs-portal`
// binary on a free (or given) port, served as http://localhost:<port>.
import { execFile, spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import { REPO_ROOT, freePort } from './server.mjs';

const execFileAsync = promisify(execFile);
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_LINES = 2_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function executable(bin, what, hint) {
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new Error(`${what} not found or not executable at ${bin}. ${hint}`);
  }
}

/**
 * Runs `tessera <args…>` in the server's directory (same SQLite database, same
 * configuration) and returns its stdout; throws with stdout and stderr on failure.
 */
export async function tesseraCli(tessera, args) {
  const bin = process.env.TESSERA_BIN || path.join(REPO_ROOT, 'target', 'debug', 'tessera');
  await executable(bin, 'Tessera binary', 'Build it (cargo build --bin tessera) or set TESSERA_BIN.');
  try {
    const { stdout } = await execFileAsync(bin, args, {
      cwd: tessera.dir,
      env: { ...process.env, TESSERA_ISSUER: tessera.baseUrl },
      timeout: 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    throw new Error(
      `tessera ${args.join(' ')} (cwd ${tessera.dir}) failed: ${err.message}\n` +
        `--- stdout ---\n${err.stdout ?? ''}\n--- stderr ---\n${err.stderr ?? ''}`,
    );
  }
}

/** The Docs portal's redirect URI when it is served on `port`. */
export const docsPortalCallback = (port) => `http://localhost:${port}/callback`;

/**
 * Registers the Docs portal in Tessera (a tenant, then a confidential app with
 * redirect URI <url>/callback and post-logout redirect URI <url>/) and starts it.
 *
 * With `clientId` and `clientSecret` (an app registered elsewhere, e.g. by a tenant admin
 * in the browser, with redirect URI docsPortalCallback(port)), nothing is registered: the
 * portal starts with those credentials. `port` picks the port (default: a free one); a
 * restart with a new secret passes the same port, so the registered redirect URI holds.
 *
 * @param {{ baseUrl: string, dir: string }} tessera  what startTessera() returned
 * @param {{ tenant?: string, tenantName?: string, appName?: string, timeoutMs?: number,
 *   clientId?: string, clientSecret?: string, port?: number }} [options]
 * @returns {Promise<{ baseUrl: string, port: number, clientId: string, output(): string,
 *   stop(): Promise<void> }>}
 */
export async function startDocsPortal(
  tessera,
  {
    tenant = 'agency',
    tenantName = 'Agency',
    appName = 'Docs portal',
    timeoutMs = START_TIMEOUT_MS,
    clientId,
    clientSecret,
    port: chosenPort,
  } = {},
) {
  const bin = process.env.DOCS_PORTAL_BIN || path.join(REPO_ROOT, 'target', 'debug', 'docs-portal');
  await executable(
    bin,
    'Docs portal binary',
    'Build it (cargo build --bin docs-portal) or set DOCS_PORTAL_BIN.',
  );

  const port = chosenPort ?? (await freePort());
  const baseUrl = `http://localhost:${port}`;

  const app = clientId && clientSecret
    ? { client_id: clientId, client_secret: clientSecret }
    : await registerDocsPortal(tessera, { tenant, tenantName, appName, baseUrl });

  return spawnDocsPortal(tessera, bin, { port, baseUrl, app, timeoutMs });
}

/** Registers the portal with the CLI: a tenant, then the app. */
async function registerDocsPortal(tessera, { tenant, tenantName, appName, baseUrl }) {
  await tesseraCli(tessera, ['admin', 'tenant', 'create', '--slug', tenant, '--name', tenantName]);
  const json = await tesseraCli(tessera, [
    'admin', '--json', 'app', 'create',
    '--tenant', tenant,
    '--name', appName,
    '--redirect-uri', `${baseUrl}/callback`,
    '--post-logout-redirect-uri', `${baseUrl}/`,
  ]);
  let app;
  try {
    app = JSON.parse(json);
  } catch (err) {
    throw new Error(`tessera admin --json app create printed no JSON (${err.message}):\n${json}`);
  }
  if (!app.client_id || !app.client_secret) {
    throw new Error(`tessera admin --json app create: expected client_id and client_secret in ${json}`);
  }
  return app;
}

/** Spawns the portal with the app's credentials and waits until it answers. */
async function spawnDocsPortal(tessera, bin, { port, baseUrl, app, timeoutMs }) {
  const lines = [];
  const record = (stream, line) => {
    lines.push(`[${stream}] ${line}`);
    if (lines.length > MAX_OUTPUT_LINES) lines.splice(0, lines.length - MAX_OUTPUT_LINES);
  };
  const output = () => lines.join('\n');

  const child = spawn(bin, [], {
    cwd: tessera.dir,
    env: {
      ...process.env,
      DOCS_PORTAL_ISSUER: tessera.baseUrl,
      DOCS_PORTAL_CLIENT_ID: app.client_id,
      DOCS_PORTAL_CLIENT_SECRET: app.client_secret,
      DOCS_PORTAL_LISTEN: `127.0.0.1:${port}`,
      DOCS_PORTAL_URL: baseUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  let spawnError = null;
  child.once('error', (err) => {
    spawnError = err;
  });
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]]) {
    readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (l) => record(name, l));
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!exited && child.pid !== undefined) {
      child.kill('SIGTERM');
      let timer;
      const timeout = new Promise((resolve) => {
        timer = setTimeout(() => resolve('timeout'), STOP_TIMEOUT_MS);
      });
      const outcome = await Promise.race([exitPromise, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
  };

  const fail = async (why) => {
    await stop();
    return new Error(`${why}\n--- docs-portal output (${bin}) ---\n${output()}\n--- end ---`);
  };

  const deadline = Date.now() + timeoutMs;
  let last = 'not tried yet';
  for (;;) {
    if (spawnError) throw await fail(`failed to spawn the Docs portal: ${spawnError.message}`);
    if (exited) throw await fail(`the Docs portal exited (code ${exited.code}, signal ${exited.signal})`);
    if (Date.now() > deadline) throw await fail(`the Docs portal not ready after ${timeoutMs} ms: GET / ${last}`);
    try {
      const res = await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      last = `status ${res.status}`;
      if (res.status === 200) break;
    } catch (err) {
      last = `error ${err.cause?.code || err.message}`;
    }
    await sleep(200);
  }

  return { baseUrl, port, clientId: app.client_id, output, stop };
}
