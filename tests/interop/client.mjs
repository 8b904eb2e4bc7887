// client.mjs: drives the npm "ws" client (an implementation nobody here
// wrote) against a pocketlua WebSocket echo server, for the Go test
// TestInteropNodeWS in tests/ws_interop_node_test.go.
//
//   node tests/interop/client.mjs ws://127.0.0.1:9002/ [size,size,...]
//
// It sends text and binary messages of every size, checks every echo byte
// for byte, sends a burst of small messages without waiting, pings, then
// closes with 1000. It prints one JSON summary line on stdout and exits 0
// only when everything matched. It talks to the given URL only.
import { createRequire } from 'node:module';
import WebSocket from 'ws';

const { version } = createRequire(import.meta.url)('ws/package.json');

const url = process.argv[2];
if (!url) {
  console.error('usage: node client.mjs ws://host:port/ [size,size,...]');
  process.exit(2);
}
const sizes = (process.argv[3] ?? '0,1,125,126,127,65535,65536,1048576')
  .split(',')
  .map(Number);
const burst = 100;

const summary = {
  ok: false,
  client: `ws@${version}`,
  node: process.version,
  sent: 0,
  echoed: 0,
  bytes: 0,
  pongs: 0,
  closeCode: null,
  closeReason: null,
  errors: [],
};

function finish() {
  summary.ok = summary.errors.length === 0;
  process.stdout.write(JSON.stringify(summary) + '\n');
  process.exit(summary.ok ? 0 : 1);
}

const watchdog = setTimeout(() => {
  summary.errors.push('timed out after 60 s');
  finish();
}, 60_000);

// textPayload is n bytes of valid UTF-8 with multi-byte characters when
// there is room for them.
function textPayload(n) {
  const prefix = Buffer.from('κόσμε😀'); // 14 bytes
  const buf = Buffer.alloc(n);
  let i = 0;
  if (n >= prefix.length) i = prefix.copy(buf);
  for (; i < n; i++) buf[i] = 0x61 + ((i * 7) % 26);
  return buf;
}

function binaryPayload(n) {
  const buf = Buffer.alloc(n);
  for (let i = 0; i < n; i++) buf[i] = (i * 31 + (i >> 8)) & 0xff;
  return buf;
}

const ws = new WebSocket(url, { handshakeTimeout: 10_000, perMessageDeflate: false });

// Messages arrive in order; next() hands them out one at a time.
const inbox = [];
const waiting = [];
ws.on('message', (data, isBinary) => {
  const m = { data, isBinary };
  if (waiting.length) waiting.shift()(m);
  else inbox.push(m);
});
const next = () =>
  inbox.length ? Promise.resolve(inbox.shift()) : new Promise((resolve) => waiting.push(resolve));

const closed = new Promise((resolve) =>
  ws.on('close', (code, reason) => {
    summary.closeCode = code;
    summary.closeReason = reason.toString();
    resolve();
  }),
);
ws.on('error', (err) => {
  summary.errors.push(`error: ${err.message}`);
  finish();
});

function check(what, sent, binary, got) {
  summary.echoed++;
  summary.bytes += got.data.length;
  if (got.isBinary !== binary) {
    summary.errors.push(`${what}: echo came back as ${got.isBinary ? 'binary' : 'text'}`);
  } else if (!sent.equals(got.data)) {
    summary.errors.push(`${what}: echo of ${sent.length} bytes came back as ${got.data.length} different bytes`);
  }
}

function send(payload, binary) {
  summary.sent++;
  // A string goes out as a text frame, a Buffer with binary: true as binary.
  if (binary) ws.send(payload, { binary: true });
  else ws.send(payload.toString('utf8'));
}

ws.on('open', async () => {
  try {
    for (const n of sizes) {
      for (const binary of [false, true]) {
        const payload = binary ? binaryPayload(n) : textPayload(n);
        send(payload, binary);
        check(`${binary ? 'binary' : 'text'} ${n}`, payload, binary, await next());
      }
    }

    const sentBurst = [];
    for (let i = 0; i < burst; i++) {
      const binary = i % 2 === 1;
      const payload = binary ? binaryPayload(i) : textPayload(i);
      sentBurst.push([payload, binary]);
      send(payload, binary);
    }
    for (let i = 0; i < burst; i++) {
      check(`burst ${i}`, sentBurst[i][0], sentBurst[i][1], await next());
    }

    const pingData = Buffer.from('node ws ping');
    const pong = new Promise((resolve) => ws.once('pong', resolve));
    ws.ping(pingData);
    const got = await pong;
    summary.pongs++;
    if (!pingData.equals(got)) summary.errors.push(`pong payload ${JSON.stringify(got.toString())}`);

    ws.close(1000, 'done');
    await closed;
    if (summary.closeCode !== 1000) summary.errors.push(`close code ${summary.closeCode}, want 1000`);
  } catch (err) {
    summary.errors.push(`exception: ${err.stack ?? err}`);
  }
  clearTimeout(watchdog);
  finish();
});
