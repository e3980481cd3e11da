// A real TLS handshake for the tests: serve a certificate pair on
// 127.0.0.1 and connect trusting only a given root, as a browser that
// imported it would.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { setTimeout as delay } from 'node:timers/promises';
import type { CertificatePair } from '../../src/tls/index.ts';

/**
 * Serve `pair` and connect with only `rootPem` trusted, sending `servername`
 * as SNI (none when undefined) and checking the certificate against
 * `checkName`. Resolves with the peer certificate once a byte came through.
 */
export async function handshake(pair: Pick<CertificatePair, 'certPem' | 'keyPem'>, rootPem: string, servername: string | undefined, checkName: string): Promise<tls.PeerCertificate> {
  const server = tls.createServer({ cert: pair.certPem, key: pair.keyPem, minVersion: 'TLSv1.2' }, (socket) => socket.end('hello'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as AddressInfo;
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      ca: rootPem,
      ...(servername === undefined ? {} : { servername }),
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(checkName, cert),
    });
    try {
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      const peer = socket.getPeerCertificate(true);
      let body = '';
      socket.setEncoding('utf8');
      for await (const chunk of socket) body += chunk as string;
      assert.equal(body, 'hello');
      return peer;
    } finally {
      socket.destroy();
    }
  } finally {
    server.close();
  }
}

/** Wait until `check()` returns a value other than undefined/false, polling in short steps up to `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000, stepMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(stepMs);
  }
}
