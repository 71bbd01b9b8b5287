// Message sinks for end-to-end tests: a tiny SMTP server that records every email
// Tessera's outbox delivers, and an HTTP receiver for the SMS webhook.
//
// Both listen on 127.0.0.1 on a free port and expose `messages` (in arrival order) and
// `waitFor(predicate, timeoutMs, what)`, which resolves with the first message the
// predicate accepts, or rejects with a description of everything received so far.
import http from 'node:http';
import net from 'node:net';

const DEFAULT_WAIT_MS = 15_000;
const MAX_TRANSCRIPT_LINES = 400;
const MAX_MESSAGE_BYTES = 5 * 1024 * 1024;

/** Listens on 127.0.0.1:0 and resolves with the port. */
function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/**
 * Polls `messages` until `predicate` accepts one. On timeout the error lists what did
 * arrive (via `describe`) plus any extra diagnostics, so a failure says why.
 */
function makeWaitFor(messages, describe, diagnostics) {
  return function waitFor(predicate, timeoutMs = DEFAULT_WAIT_MS, what = 'a matching message') {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const tick = () => {
        let found;
        try {
          found = messages.find((m) => predicate(m));
        } catch (err) {
          reject(err);
          return;
        }
        if (found) {
          resolve(found);
          return;
        }
        if (Date.now() >= deadline) {
          const got =
            messages.length === 0
              ? '  (none)'
              : messages.map((m, i) => `  #${i + 1} ${describe(m)}`).join('\n');
          const extra = diagnostics();
          reject(
            new Error(
              `timed out after ${timeoutMs} ms waiting for ${what}; received ${messages.length} message(s):\n${got}` +
                (extra ? `\n${extra}` : ''),
            ),
          );
          return;
        }
        setTimeout(tick, 50);
      };
      tick();
    });
  };
}

const oneLine = (s, max = 300) => {
  const flat = String(s).replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
};

// ------------------------------------------------------------------ MIME decoding

/** Decodes quoted-printable (RFC 2045 §6.7) to bytes, then UTF-8 text. */
export function decodeQuotedPrintable(text) {
  // Soft line breaks: "=" at the end of a line joins it with the next.
  const joined = text.replace(/=\r?\n/g, '');
  // A run of =XX escapes is one byte sequence (a multi-byte UTF-8 character is never
  // split by other text), so each run is decoded as a whole.
  return joined.replace(/(?:=[0-9A-Fa-f]{2})+/g, (run) =>
    Buffer.from(run.replace(/=/g, ''), 'hex').toString('utf8'),
  );
}

/** Decodes RFC 2047 encoded words (=?charset?B|Q?…?=) in a header value. */
export function decodeEncodedWords(value) {
  // Whitespace between two adjacent encoded words is not part of the text.
  const collapsed = value.replace(/(\?=)\s+(=\?)/g, '$1$2');
  return collapsed.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset, enc, data) => {
    if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString('utf8');
    return decodeQuotedPrintable(data.replace(/_/g, ' '));
  });
}

/**
 * Splits a raw RFC 5322 message (CRLF or LF line ends, already un-dot-stuffed) into
 * headers (lower-cased names, unfolded, encoded words decoded) and a decoded body.
 */
export function parseEmail(raw) {
  const text = raw.replace(/\r\n/g, '\n');
  const split = text.indexOf('\n\n');
  const headText = split === -1 ? text : text.slice(0, split);
  const rawBody = split === -1 ? '' : text.slice(split + 2);

  const headers = {};
  const unfolded = headText.replace(/\n[ \t]+/g, ' ');
  for (const line of unfolded.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = decodeEncodedWords(line.slice(colon + 1).trim());
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }

  const encoding = (headers['content-transfer-encoding'] || '7bit').trim().toLowerCase();
  let body;
  if (encoding === 'quoted-printable') {
    body = decodeQuotedPrintable(rawBody);
  } else if (encoding === 'base64') {
    body = Buffer.from(rawBody.replace(/\s+/g, ''), 'base64').toString('utf8');
  } else {
    body = rawBody;
  }
  body = body.replace(/\r\n/g, '\n');

  return {
    headers,
    subject: headers.subject || '',
    to: headers.to || '',
    from: headers.from || '',
    messageId: headers['message-id'] || '',
    contentTransferEncoding: encoding,
    body,
  };
}

// ------------------------------------------------------------------ SMTP sink

/**
 * Starts an SMTP server that accepts every message (no TLS, no auth).
 *
 * Each entry of `messages`: { envelopeFrom, envelopeTo: string[], headers, subject, to,
 * from, messageId, contentTransferEncoding, body, raw, receivedAt }.
 *
 * @returns {Promise<{ port: number, url: string, messages: object[], transcript(): string,
 *   waitFor(predicate: (m: object) => boolean, timeoutMs?: number, what?: string): Promise<object>,
 *   close(): Promise<void> }>}
 */
export async function startSmtpSink({ hostname = 'tessera-e2e-smtp-sink' } = {}) {
  const messages = [];
  const transcriptLines = [];
  const errors = [];
  const sockets = new Set();
  let connectionCount = 0;

  const log = (conn, dir, line) => {
    transcriptLines.push(`[${conn}] ${dir} ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`);
    if (transcriptLines.length > MAX_TRANSCRIPT_LINES) {
      transcriptLines.splice(0, transcriptLines.length - MAX_TRANSCRIPT_LINES);
    }
  };

  const server = net.createServer((socket) => {
    const conn = ++connectionCount;
    sockets.add(socket);
    socket.setEncoding('utf8');
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err) => errors.push(`connection ${conn}: ${err.message}`));

    const reply = (line) => {
      log(conn, 'S:', line.replace(/\r\n/g, ' | '));
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };

    let buffer = '';
    let inData = false;
    let dataLines = [];
    let dataBytes = 0;
    let envelopeFrom = null;
    let envelopeTo = [];
    const resetEnvelope = () => {
      envelopeFrom = null;
      envelopeTo = [];
    };

    const finishData = () => {
      inData = false;
      const raw = dataLines.join('\r\n');
      dataLines = [];
      dataBytes = 0;
      try {
        const parsed = parseEmail(raw);
        messages.push({
          envelopeFrom,
          envelopeTo: [...envelopeTo],
          ...parsed,
          raw,
          receivedAt: new Date(),
        });
        log(conn, '**', `stored message #${messages.length}: to=${parsed.to} subject=${parsed.subject}`);
        reply('250 2.0.0 OK: queued');
      } catch (err) {
        errors.push(`connection ${conn}: cannot parse message: ${err.message}`);
        reply('554 5.6.0 cannot parse message');
      }
      resetEnvelope();
    };

    const command = (line) => {
      log(conn, 'C:', line);
      const verb = line.split(' ', 1)[0].toUpperCase();
      const arg = line.slice(verb.length).trim();
      switch (verb) {
        case 'EHLO':
          reply(`250-${hostname} greets ${arg || 'you'}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE ${MAX_MESSAGE_BYTES}`);
          resetEnvelope();
          break;
        case 'HELO':
          reply(`250 ${hostname}`);
          resetEnvelope();
          break;
        case 'MAIL': {
          const m = arg.match(/^FROM:\s*<([^>]*)>/i);
          if (!m) {
            reply('501 5.5.4 Syntax: MAIL FROM:<address>');
            break;
          }
          resetEnvelope();
          envelopeFrom = m[1];
          reply('250 2.1.0 OK');
          break;
        }
        case 'RCPT': {
          const m = arg.match(/^TO:\s*<([^>]*)>/i);
          if (!m) {
            reply('501 5.5.4 Syntax: RCPT TO:<address>');
            break;
          }
          if (envelopeFrom === null) {
            reply('503 5.5.1 MAIL first');
            break;
          }
          envelopeTo.push(m[1]);
          reply('250 2.1.5 OK');
          break;
        }
        case 'DATA':
          if (envelopeFrom === null || envelopeTo.length === 0) {
            reply('503 5.5.1 need MAIL and RCPT first');
            break;
          }
          inData = true;
          dataLines = [];
          dataBytes = 0;
          reply('354 End data with <CR><LF>.<CR><LF>');
          break;
        case 'RSET':
          resetEnvelope();
          reply('250 2.0.0 OK');
          break;
        case 'NOOP':
          reply('250 2.0.0 OK');
          break;
        case 'QUIT':
          reply('221 2.0.0 Bye');
          socket.end();
          break;
        case 'STARTTLS':
          reply('454 4.7.0 TLS not available');
          break;
        default:
          reply('502 5.5.2 Command not implemented');
      }
    };

    const handleLine = (line) => {
      if (inData) {
        if (line === '.') {
          log(conn, 'C:', `. (end of data, ${dataLines.length} lines)`);
          finishData();
          return;
        }
        // Dot-stuffing (RFC 5321 §4.5.2): a leading "." was doubled by the client.
        const unstuffed = line.startsWith('.') ? line.slice(1) : line;
        dataBytes += unstuffed.length + 2;
        if (dataBytes <= MAX_MESSAGE_BYTES) dataLines.push(unstuffed);
        return;
      }
      command(line);
    };

    socket.on('data', (chunk) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        let line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.endsWith('\r')) line = line.slice(0, -1);
        handleLine(line);
      }
    });

    reply(`220 ${hostname} ESMTP ready`);
  });

  server.on('error', (err) => errors.push(`server: ${err.message}`));
  const port = await listen(server);

  const describe = (m) =>
    `to=${JSON.stringify(m.to)} rcpt=${JSON.stringify(m.envelopeTo)} subject=${JSON.stringify(m.subject)} ` +
    `cte=${m.contentTransferEncoding} body=${JSON.stringify(oneLine(m.body))}`;
  const transcript = () => transcriptLines.join('\n');
  const diagnostics = () => {
    const parts = [`SMTP connections so far: ${connectionCount}`];
    if (errors.length) parts.push(`SMTP sink errors:\n  ${errors.join('\n  ')}`);
    if (transcriptLines.length) {
      parts.push(`last SMTP transcript lines:\n${transcriptLines.slice(-40).join('\n')}`);
    }
    return parts.join('\n');
  };

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(() => resolve()));
  };

  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    messages,
    errors,
    transcript,
    describe,
    waitFor: makeWaitFor(messages, describe, diagnostics),
    close,
  };
}

// ------------------------------------------------------------------ SMS webhook receiver

/**
 * Starts an HTTP server that takes the SMS webhook's `POST {"to": "+65…", "body": "…"}`
 * (any path; the path is recorded) and answers 200.
 *
 * Each entry of `messages`: { to, body, path, contentType, json, receivedAt }.
 * Requests that are not a POST of a JSON object with string "to" and "body" are answered
 * 400 and listed in `rejected`.
 *
 * @returns {Promise<{ port: number, url: string, messages: object[], rejected: string[],
 *   waitFor(predicate: (m: object) => boolean, timeoutMs?: number, what?: string): Promise<object>,
 *   close(): Promise<void> }>}
 */
export async function startSmsReceiver({ path = '/sms' } = {}) {
  const messages = [];
  const rejected = [];

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_MESSAGE_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const refuse = (why) => {
        rejected.push(`${req.method} ${req.url}: ${why}; body: ${oneLine(text, 200)}`);
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: why }));
      };
      if (req.method !== 'POST') return refuse('not a POST');
      let json;
      try {
        json = JSON.parse(text);
      } catch (err) {
        return refuse(`body is not JSON (${err.message})`);
      }
      if (!json || typeof json.to !== 'string' || typeof json.body !== 'string') {
        return refuse('JSON must have string "to" and "body"');
      }
      messages.push({
        to: json.to,
        body: json.body,
        path: req.url,
        contentType: req.headers['content-type'] || '',
        json,
        receivedAt: new Date(),
      });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"accepted"}');
    });
  });

  const port = await listen(server);
  const describe = (m) => `POST ${m.path} to=${JSON.stringify(m.to)} body=${JSON.stringify(oneLine(m.body))}`;
  const diagnostics = () => (rejected.length ? `rejected requests:\n  ${rejected.join('\n  ')}` : '');

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(() => resolve()));
  };

  return {
    port,
    url: `http://127.0.0.1:${port}${path}`,
    messages,
    rejected,
    describe,
    waitFor: makeWaitFor(messages, describe, diagnostics),
    close,
  };
}
