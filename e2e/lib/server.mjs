// Starts the real Tessera server binary for an end-to-end test.
import { spawn } from 'node:child_process';
import { access, constants, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const SETUP_URL_RE = /http:\/\/localhost:\d+\/setup\?token=[A-Za-z0-9_-]+/;
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const MAX_OUTPUT_LINES = 5_000;

/** Finds a free TCP port on 127.0.0.1 by binding to port 0 and closing again. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Spawns `<TESSERA_BIN> serve` in a fresh temporary working directory and waits
 * until it has printed the first-run setup link and /healthz answers 200.
 *
 * @param {{ env?: Record<string, string>, timeoutMs?: number }} [options]
 * @returns {Promise<{ baseUrl: string, setupUrl: string, port: number, dir: string,
 *   output(): string, stop(): Promise<void> }>}
 */
export async function startTessera({ env = {}, timeoutMs = START_TIMEOUT_MS } = {}) {
  const bin = process.env.TESSERA_BIN || path.join(REPO_ROOT, 'target', 'debug', 'tessera');
  try {
    await access(bin, constants.X_OK);
  } catch {
    throw new Error(
      `Tessera server binary not found or not executable at ${bin}. ` +
        'Build it first (cargo build -p tessera) or set TESSERA_BIN.',
    );
  }

  const port = await freePort();
  const baseUrl = `http://localhost:${port}`;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-e2e-'));

  const lines = [];
  const record = (stream, line) => {
    lines.push(`[${stream}] ${line}`);
    if (lines.length > MAX_OUTPUT_LINES) lines.splice(0, lines.length - MAX_OUTPUT_LINES);
  };
  const output = () => lines.join('\n');

  const child = spawn(bin, ['serve'], {
    cwd: dir,
    env: {
      ...process.env,
      TESSERA_LISTEN: `127.0.0.1:${port}`,
      TESSERA_ISSUER: baseUrl,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let exited = null; // { code, signal } once the process is gone
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

  let setupUrl = null;
  for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]]) {
    const rl = readline.createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (line) => {
      record(name, line);
      if (!setupUrl) {
        const m = line.match(SETUP_URL_RE);
        if (m) setupUrl = m[0];
      }
    });
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
        record('e2e', `server did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; sending SIGKILL`);
        child.kill('SIGKILL');
        await exitPromise;
      }
    }
    await rm(dir, { recursive: true, force: true });
  };

  const fail = async (why) => {
    await stop();
    return new Error(`${why}\n--- server output (${bin} serve, cwd ${dir}) ---\n${output()}\n--- end ---`);
  };

  const deadline = Date.now() + timeoutMs;
  let healthy = false;
  let lastHealth = 'not tried yet';
  while (!(setupUrl && healthy)) {
    if (spawnError) throw await fail(`failed to spawn the server: ${spawnError.message}`);
    if (exited) {
      throw await fail(
        `server exited before it was ready (code ${exited.code}, signal ${exited.signal})`,
      );
    }
    if (Date.now() > deadline) {
      throw await fail(
        `server not ready after ${timeoutMs} ms: ` +
          `setup link ${setupUrl ? 'seen' : 'NOT seen'} in output; ` +
          `GET ${baseUrl}/healthz: ${healthy ? '200' : lastHealth}`,
      );
    }
    if (!healthy) {
      try {
        const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        healthy = res.status === 200;
        lastHealth = `status ${res.status}`;
      } catch (err) {
        lastHealth = `error ${err.cause?.code || err.message}`;
      }
    }
    if (!(setupUrl && healthy)) await sleep(200);
  }

  return { baseUrl, setupUrl, port, dir, output, stop };
}
