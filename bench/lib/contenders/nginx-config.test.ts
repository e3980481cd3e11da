import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nginxConfig } from './nginx-config.ts';

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
