// WebSocket client for the recording proxy's integration test: connects to
// argv[2], sends text and binary messages and a ping, waits for every echo
// and the pong, then closes with code 4000.
'use strict';
const WebSocket = require('ws');

const url = process.argv[2];
const texts = ['{"event":"hello","n":1}', 'node text '.repeat(40), '{"event":"hello","n":2}'];
const binary = Buffer.from([0, 1, 2, 3, 254, 255]);
const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
let pending = texts.length + 1;
let ponged = false;
const timer = setTimeout(() => { console.error('timeout'); process.exit(2); }, 10000);

function maybeClose() {
  if (pending === 0 && ponged) ws.close(4000, 'node done');
}

ws.on('open', () => {
  for (const t of texts) ws.send(t);
  ws.send(binary);
  ws.ping('node-ping');
});
ws.on('message', (data, isBinary) => {
  pending--;
  maybeClose();
});
ws.on('pong', (data) => {
  if (data.toString() === 'node-ping') ponged = true;
  maybeClose();
});
ws.on('close', (code, reason) => {
  clearTimeout(timer);
  console.log(JSON.stringify({ code, reason: reason.toString(), extensions: ws.extensions }));
  process.exit(code === 4000 ? 0 : 1);
});
ws.on('error', (err) => { console.error(err.message); process.exit(1); });
