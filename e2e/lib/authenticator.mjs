// The reference push authenticator (`tessera authenticator`, the TESSERA_BIN binary) as a
// test's phone: one key file in its own temporary directory. Each call runs the binary and
// resolves with { code, stdout, stderr, output, json } (json: stdout parsed when --json was
// given and it parses); it never rejects on a non-zero exit, so tests can assert refusals.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './server.mjs';

const RUN_TIMEOUT_MS = 30_000;

function binary() {
  return process.env.TESSERA_BIN || path.join(REPO_ROOT, 'target', 'debug', 'tessera');
}

/**
 * @returns {Promise<{ keyFile: string, run(args: string[]): Promise<object>,
 *   enroll(uri: string, opts?: { name?: string }): Promise<object>, list(): Promise<object>,
 *   approve(number: number, opts?: { challenge?: string }): Promise<object>,
 *   deny(opts?: { challenge?: string }): Promise<object>, log: string[], close(): Promise<void> }>}
 */
export async function startAuthenticator() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-e2e-authenticator-'));
  const keyFile = path.join(dir, 'key.json');
  const log = [];

  const run = (args) =>
    new Promise((resolve) => {
      const full = ['authenticator', ...args, '--key-file', keyFile];
      execFile(
        binary(),
        full,
        {
          cwd: dir,
          timeout: RUN_TIMEOUT_MS,
          // Keep the binary's own logging quiet and the environment free of a key file.
          env: { ...process.env, TESSERA_AUTHENTICATOR_FILE: '', RUST_LOG: 'warn' },
        },
        (err, stdout, stderr) => {
          let code = 0;
          if (err) code = typeof err.code === 'number' ? err.code : err.signal ? `signal ${err.signal}` : String(err.code ?? err.message);
          let json = null;
          if (args.includes('--json')) {
            try {
              json = JSON.parse(stdout);
            } catch {
              json = null;
            }
          }
          const result = { args: full, code, stdout, stderr, output: `${stdout}${stderr}`, json };
          log.push(`$ tessera ${full.join(' ')}\n  exit ${code}\n  stdout: ${stdout.trim()}\n  stderr: ${stderr.trim()}`);
          resolve(result);
        },
      );
    });

  const challengeArgs = (challenge) => (challenge ? ['--challenge', challenge] : []);

  return {
    keyFile,
    log,
    run,
    enroll: (uri, { name = 'e2e phone' } = {}) => run(['enroll', uri, '--name', name, '--json']),
    list: () => run(['list', '--json']),
    approve: (number, { challenge } = {}) =>
      run(['approve', '--number', String(number), ...challengeArgs(challenge), '--json']),
    deny: ({ challenge } = {}) => run(['approve', '--deny', ...challengeArgs(challenge), '--json']),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/** One line describing a run, for assertion messages. */
export function describeRun(r) {
  return `tessera ${r.args.join(' ')} -> exit ${r.code}; stdout ${JSON.stringify(r.stdout.trim())}; stderr ${JSON.stringify(r.stderr.trim())}`;
}
