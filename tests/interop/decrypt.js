#!/usr/bin/env node
// npm http_ece (the RFC 8188 reference implementation web-push uses) as an independent receiver
// for tests/integration/test_webpush_interop.py: it decrypts what Tootbell's encrypt() sends.
//
// Reads one JSON object on stdin:
//   {"body": "<standard base64>", "contentEncoding", "salt" and "dh" (aesgcm only, base64url),
//    "privateKey" (raw 32-byte P-256 scalar, base64url), "auth" (base64url)}
// and prints {"plaintext": "<standard base64>"}.
'use strict';

const crypto = require('crypto');
const ece = require('http_ece');

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
  const receiver = crypto.createECDH('prime256v1');
  receiver.setPrivateKey(Buffer.from(request.privateKey, 'base64url'));
  const params = {
    version: request.contentEncoding,
    privateKey: receiver,
    authSecret: request.auth,
  };
  if (request.contentEncoding === 'aesgcm') {
    params.salt = request.salt;
    params.dh = request.dh;
  }
  const plaintext = ece.decrypt(Buffer.from(request.body, 'base64'), params);
  process.stdout.write(JSON.stringify({ plaintext: plaintext.toString('base64') }));
}

main().catch((err) => {
  process.stderr.write(`decrypt.js: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
