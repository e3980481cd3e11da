import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nginxConfig, TLS12_CIPHERS } from './nginx-config.ts';

const base = { prefix: '/tmp/x/nginx', port: 40001, staticDir: '/tmp/x/static', nofile: 20000 };

test('static config: both cores, no access log, sendfile and an open-file cache', () => {
  const conf = nginxConfig({ ...base, mode: 'static', upstream: null });
  for (const line of ['worker_processes 2;', 'access_log off;', 'sendfile on;', 'tcp_nopush on;', 'keepalive_requests 100000;', 'listen 127.0.0.1:40001;', 'root /tmp/x/static;', 'pid /tmp/x/nginx/nginx.pid;', 'error_log /tmp/x/nginx/error.log warn;'])
    assert.ok(conf.includes(line), line);
  assert.match(conf, /open_file_cache max=/);
  assert.doesNotMatch(conf, /proxy_pass/);
});

test('proxy config: a keep-alive pool to the upstream over HTTP/1.1', () => {
  const conf = nginxConfig({ ...base, mode: 'proxy', upstream: { host: '127.0.0.1', port: 40002 } });
  for (const line of ['server 127.0.0.1:40002;', 'keepalive 64;', 'proxy_pass http://tiny;', 'proxy_http_version 1.1;', 'proxy_set_header Connection "";'])
    assert.ok(conf.includes(line), line);
});

test('worker_connections stays inside the open-file limit', () => {
  assert.match(nginxConfig({ ...base, mode: 'static', upstream: null, nofile: 20000 }), /worker_connections 19744;/);
  assert.match(nginxConfig({ ...base, mode: 'static', upstream: null, nofile: 1024 }), /worker_connections 1024;/);
});

test('the plain modes have no TLS and no cache, as before', () => {
  for (const mode of ['static', 'proxy'] as const) {
    const conf = nginxConfig({ ...base, mode, upstream: { host: '127.0.0.1', port: 40002 } });
    assert.doesNotMatch(conf, /ssl|http2|proxy_cache/);
  }
});

test('HTTPS modes: a second listener with TLS and HTTP/2, the given certificate, TLS 1.2 and 1.3, session cache and tickets', () => {
  const tls = { port: 40443, certFile: '/tmp/x/tls/cert.pem', keyFile: '/tmp/x/tls/key.pem' };
  const conf = nginxConfig({ ...base, mode: 'https-static', upstream: null, tls });
  for (const line of [
    'listen 127.0.0.1:40001;',
    'listen 127.0.0.1:40443 ssl http2;',
    'ssl_certificate /tmp/x/tls/cert.pem;',
    'ssl_certificate_key /tmp/x/tls/key.pem;',
    'ssl_protocols TLSv1.2 TLSv1.3;',
    `ssl_ciphers ${TLS12_CIPHERS};`,
    'ssl_session_cache shared:SSL:10m;',
    'ssl_session_tickets on;',
    'root /tmp/x/static;',
  ])
    assert.ok(conf.includes(line), line);
  assert.doesNotMatch(conf, /proxy_pass/);
  const proxied = nginxConfig({ ...base, mode: 'https-proxy', upstream: { host: '127.0.0.1', port: 40002 }, tls });
  assert.ok(proxied.includes('listen 127.0.0.1:40443 ssl http2;'));
  assert.ok(proxied.includes('proxy_pass http://tiny;'));
  assert.doesNotMatch(proxied, /proxy_cache/);
});

test('cache mode: proxy_cache in the prefix, freshness from the upstream\'s headers, the cache status in a header', () => {
  const conf = nginxConfig({ ...base, mode: 'cache', upstream: { host: '127.0.0.1', port: 40002 } });
  assert.match(conf, /proxy_cache_path \/tmp\/x\/nginx\/cache levels=1:2 keys_zone=bench:\d+m /);
  for (const line of ['proxy_cache bench;', 'add_header X-Cache-Status $upstream_cache_status always;', 'proxy_pass http://tiny;', 'keepalive 64;'])
    assert.ok(conf.includes(line), line);
  assert.doesNotMatch(conf, /proxy_cache_valid|ssl/);
});
