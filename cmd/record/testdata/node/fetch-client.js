// HTTP client for record proxy's integration test: drives a server the way
// a Node app does, with Node's own fetch (undici): default headers,
// keep-alive connections, JSON POST bodies of several sizes, one of them
// streamed (so sent chunked), a few users at once. argv: base URL, users,
// rounds. Prints what it sent (id, size, sha256 per request body) as JSON.
'use strict';
const { createHash } = require('node:crypto');

const [base, usersArg, roundsArg] = process.argv.slice(2);
const users = Number(usersArg || 3);
const rounds = Number(roundsArg || 10);
const sizes = [2, 700, 5000, 70000, 300000];
const sent = [];
const timer = setTimeout(() => { console.error('timeout'); process.exit(2); }, 60000);

function jsonBody(n, seed) {
  const head = JSON.stringify({ seed, pad: '' });
  return JSON.stringify({ seed, pad: 'x'.repeat(Math.max(n - head.length, 0)) });
}

function sha256(s) {
  return createHash('sha256').update(s).digest('hex');
}

async function expectOK(res, id, size) {
  const text = await res.text(); // fetch decodes gzip itself
  if (res.status !== 200) throw new Error(`${id}: status ${res.status}: ${text}`);
  const v = JSON.parse(text);
  if (size !== undefined && v.got !== size) throw new Error(`${id}: upstream got ${v.got} bytes, sent ${size}`);
}

async function user(u) {
  for (let r = 0; r < rounds; r++) {
    const id = `u${u}-r${r}`;
    let res = await fetch(`${base}/v1/sessions?user=${u}&round=${r}`, { headers: { 'x-req': `${id}-get` } });
    await expectOK(res, `${id}-get`);

    const body = jsonBody(sizes[(r + u) % sizes.length], id);
    res = await fetch(`${base}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-req': `${id}-post` },
      body,
    });
    await expectOK(res, `${id}-post`, Buffer.byteLength(body));
    sent.push({ id: `${id}-post`, size: Buffer.byteLength(body), sha256: sha256(body) });

    const streamed = jsonBody(sizes[(r + u + 2) % sizes.length], id + '-stream');
    const bytes = new TextEncoder().encode(streamed);
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(bytes.slice(0, 16));
        c.enqueue(bytes.slice(16));
        c.close();
      },
    });
    res = await fetch(`${base}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-req': `${id}-stream` },
      body: stream,
      duplex: 'half',
    });
    await expectOK(res, `${id}-stream`);
    sent.push({ id: `${id}-stream`, size: bytes.length, sha256: sha256(streamed) });
  }
}

Promise.all(Array.from({ length: users }, (_, u) => user(u))).then(
  () => {
    clearTimeout(timer);
    console.log(JSON.stringify({ sent }));
  },
  (err) => {
    console.error(err.stack || String(err));
    process.exit(1);
  },
);
