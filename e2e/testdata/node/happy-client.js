// A Happy API client written the way a Node app is: Node's own fetch
// (undici, default headers, so it asks for `gzip, deflate` and keeps
// connections alive) and the `ws` package. Several users at once, each
// with a bearer token of its own, each a sequential client that awaits
// what it needs before it goes on:
//
//   ticket -> WebSocket /v1/updates?ticket=... (open; pings, session-alive)
//   round:  POST /v1/sessions (tag)            -> session id
//           POST /v1/sessions/{id}/messages x2 (localId)
//           GET  /v1/sessions/{id}/messages and GET /v1/sessions/{id} at once
//           POST /v1/artifacts (client-made id) -> GET /v1/artifacts/{id}
//           POST /v1/kv (create key)           -> GET /v1/kv/{key}
//           DELETE /v1/artifacts/{id}, POST /v1/kv (value null: delete),
//           DELETE /v1/sessions/{id}
//   halfway the socket is closed and a new ticket opens another one.
//
// Everything it creates it deletes. argv: base URL (http://host:port),
// users, seconds to run. Prints a JSON summary on stdout; exits 1 on any
// answer other than the expected one.
'use strict';
const { randomUUID, randomBytes } = require('node:crypto');
const WebSocket = require('ws');

const [base, usersArg, secondsArg] = process.argv.slice(2);
const users = Number(usersArg || 4);
const seconds = Number(secondsArg || 20);
const wsBase = base.replace(/^http/, 'ws');
const summary = {
  users,
  requests: 0,
  statuses: {},
  encodings: {},
  created: { sessions: 0, messages: 0, artifacts: 0, kv: 0 },
  deleted: { sessions: 0, artifacts: 0, kv: 0 },
  websockets: 0,
  ws_sent: 0,
  ws_received: 0,
  ws_acks: 0,
};
const timer = setTimeout(() => { console.error('timeout'); process.exit(2); }, (seconds + 60) * 1000);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const think = () => sleep(60 + Math.floor(Math.random() * 180));
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64');

// call sends one request with fetch's default headers plus the token and,
// for a body, its content type; it checks the status and returns the
// decoded JSON answer.
async function call(token, method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  const init = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(base + path, init);
  const text = await res.text(); // fetch undoes the content coding
  summary.requests++;
  summary.statuses[res.status] = (summary.statuses[res.status] || 0) + 1;
  const enc = res.headers.get('content-encoding') || 'identity';
  summary.encodings[enc] = (summary.encodings[enc] || 0) + 1;
  if (res.status !== 200) throw new Error(`${method} ${path}: status ${res.status}: ${text}`);
  return JSON.parse(text);
}

// updates opens the user's update stream with a fresh ticket and resolves
// once it is open; the returned object sends client events and closes.
async function updates(token) {
  const { ticket } = await call(token, 'POST', '/v1/websocket/ticket');
  if (!ticket) throw new Error('no ticket');
  const ws = new WebSocket(`${wsBase}/v1/updates?ticket=${encodeURIComponent(ticket)}`);
  const acks = new Set();
  let ackWaiter = null;
  ws.on('message', (data) => {
    summary.ws_received++;
    let m;
    try { m = JSON.parse(data.toString()); } catch { return; }
    if (m.ackId !== undefined && acks.delete(m.ackId)) {
      summary.ws_acks++;
      if (acks.size === 0 && ackWaiter) ackWaiter();
    }
    if (m.event === 'error' || m.type === 'error') {
      console.error('server error frame: ' + data.toString());
      process.exit(1);
    }
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
    ws.once('unexpected-response', (_, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
  });
  summary.websockets++;
  ws.on('error', (err) => { console.error('ws: ' + err.message); process.exit(1); });
  return {
    emit(event, data) {
      const ackId = randomUUID();
      acks.add(ackId);
      ws.send(JSON.stringify({ event, data, ackId }));
      summary.ws_sent++;
    },
    // close waits (a bounded time) for the acks still due, then closes
    // normally and waits for the server's close.
    async close() {
      if (acks.size > 0) {
        await Promise.race([new Promise((r) => { ackWaiter = r; }), sleep(3000)]);
        if (acks.size > 0) throw new Error(`${acks.size} WebSocket acks never came`);
      }
      const closed = new Promise((r) => ws.once('close', r));
      ws.close(1000, 'done');
      await closed;
    },
  };
}

async function round(token, sock) {
  const { session } = await call(token, 'POST', '/v1/sessions', {
    tag: randomUUID(),
    metadata: b64({ path: '/home/dev/project', host: 'laptop' }),
  });
  const sid = session && session.id;
  if (!sid) throw new Error('no session id');
  summary.created.sessions++;
  sock.emit('session-alive', { sid, time: Date.now(), thinking: false });
  await think();

  for (let i = 0; i < 2; i++) {
    const { message } = await call(token, 'POST', `/v1/sessions/${sid}/messages`, {
      localId: randomUUID(),
      content: { t: 'encrypted', c: b64(`message ${i} of ${sid}`) },
    });
    if (!message || message.sessionId !== sid) throw new Error('message not in its session');
    summary.created.messages++;
    await think();
  }
  // An app refreshes the session view with both reads at once.
  const [list, got] = await Promise.all([
    call(token, 'GET', `/v1/sessions/${sid}/messages?limit=50`),
    call(token, 'GET', `/v1/sessions/${sid}`),
  ]);
  if (list.messages.length !== 2 || got.session.id !== sid) throw new Error('session reads disagree');
  sock.emit('ping', { timestamp: Date.now() });
  await think();

  const artifact = randomUUID();
  await call(token, 'POST', '/v1/artifacts', {
    id: artifact,
    header: b64({ title: 'notes' }),
    body: b64('artifact body '.repeat(20)),
    dataEncryptionKey: randomBytes(32).toString('base64'),
  });
  summary.created.artifacts++;
  await think();
  const a = await call(token, 'GET', `/v1/artifacts/${artifact}`);
  if (a.artifact.id !== artifact) throw new Error('artifact read back wrong');
  await think();

  const key = `draft-${randomUUID()}`;
  const created = await call(token, 'POST', '/v1/kv', { mutations: [{ key, value: b64('draft text'), version: -1 }] });
  const version = created.results[0].version;
  summary.created.kv++;
  await think();
  const kv = await call(token, 'GET', `/v1/kv/${key}`);
  if (kv.key !== key) throw new Error('kv read back wrong');
  await think();

  await call(token, 'DELETE', `/v1/artifacts/${artifact}`);
  summary.deleted.artifacts++;
  await think();
  await call(token, 'POST', '/v1/kv', { mutations: [{ key, value: null, version }] });
  summary.deleted.kv++;
  await think();
  await call(token, 'DELETE', `/v1/sessions/${sid}`);
  summary.deleted.sessions++;
  await think();
}

async function user(u) {
  const token = `node-user-${u}-${randomBytes(6).toString('hex')}`;
  const end = Date.now() + seconds * 1000;
  const half = Date.now() + (seconds * 1000) / 2;
  await sleep(u * 150); // users do not start in lockstep
  let sock = await updates(token);
  let reopened = false;
  while (Date.now() < end) {
    await round(token, sock);
    if (!reopened && Date.now() >= half) {
      await sock.close();
      await think();
      sock = await updates(token);
      reopened = true;
    }
  }
  await sock.close();
}

Promise.all(Array.from({ length: users }, (_, u) => user(u))).then(
  () => {
    clearTimeout(timer);
    console.log(JSON.stringify(summary));
  },
  (err) => {
    console.error(err.stack || String(err));
    process.exit(1);
  },
);
