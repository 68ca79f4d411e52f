#!/usr/bin/env node
// npm web-push as an independent Web Push sender for tests/integration/test_webpush_interop.py.
//
// Reads one JSON object on stdin:
//   {"endpoint", "p256dh", "auth", "payload" (text), "contentEncoding" ("aes128gcm" | "aesgcm"),
//    "vapid": {"subject", "publicKey", "privateKey"}}
// and prints what web-push would send, without sending it:
//   {"headers": {...}, "body": "<standard base64>"}
'use strict';

const webpush = require('web-push');

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (chunk) => chunks.push(chunk));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

async function main() {
  const request = JSON.parse(await readStdin());
  const subscription = {
    endpoint: request.endpoint,
    keys: { p256dh: request.p256dh, auth: request.auth },
  };
  const details = webpush.generateRequestDetails(subscription, request.payload, {
    vapidDetails: request.vapid,
    contentEncoding: request.contentEncoding,
  });
  const headers = {};
  for (const [name, value] of Object.entries(details.headers)) {
    headers[name] = String(value);
  }
  process.stdout.write(JSON.stringify({
    headers,
    body: Buffer.from(details.body).toString('base64'),
  }));
}

main().catch((err) => {
  process.stderr.write(`encrypt.js: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
