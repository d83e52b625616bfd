// WebSocket echo server with permessage-deflate and context takeover, for
// the recording proxy's integration test. Prints its port, then echoes
// every message until killed.
'use strict';
const WebSocket = require('ws');

const wss = new WebSocket.Server({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 } }, () => {
  console.log(wss.address().port);
});
wss.on('connection', (ws) => {
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
});
