import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostName, route, UpstreamGroup, type RouteTable, type SiteRoutes, type StaticSite } from '../../src/edge/index.ts';

const assets = { root: '/srv/assets' } as unknown as StaticSite;
const images = { root: '/srv/images' } as unknown as StaticSite;
const site = { root: '/srv/site' } as unknown as StaticSite;
const shopUpstreams = new UpstreamGroup();
const blogUpstreams = new UpstreamGroup();

const shop: SiteRoutes = {
  mounts: [
    { prefix: '/static/img', site: images },
    { prefix: '/static', site: assets },
  ],
  upstreams: shopUpstreams,
  fallback: null,
};
const blog: SiteRoutes = { mounts: [], upstreams: blogUpstreams, fallback: null };
const table: RouteTable = { hosts: new Map([['shop.example.com', shop], ['blog.example.com', blog]]), fallbackSite: null };

test('host names are compared without port and case', () => {
  assert.equal(hostName('Shop.Example.COM:8080'), 'shop.example.com');
  assert.equal(hostName('[::1]:8080'), '[::1]');
  assert.equal(hostName('[::1]'), '[::1]');
  assert.equal(hostName(undefined), '');
});

test('requests go to the app of their host', () => {
  assert.deepEqual(route(table, 'shop.example.com', '/cart'), { kind: 'proxy', upstreams: shopUpstreams, maxBodyBytes: null, owner: shop });
  assert.deepEqual(route(table, 'BLOG.example.com:80', '/'), { kind: 'proxy', upstreams: blogUpstreams, maxBodyBytes: null, owner: blog });
});

test('a host that matches no app is not found, never another app', () => {
  assert.deepEqual(route(table, 'other.example.com', '/'), { kind: 'not-found' });
  assert.deepEqual(route(table, undefined, '/'), { kind: 'not-found' });
});

test('static mounts take their prefix, longest first, and only on a segment boundary', () => {
  assert.deepEqual(route(table, 'shop.example.com', '/static/app.css'), { kind: 'static', site: assets, target: '/app.css', owner: shop });
  assert.deepEqual(route(table, 'shop.example.com', '/static/img/a.png?v=2'), { kind: 'static', site: images, target: '/a.png?v=2', owner: shop });
  assert.deepEqual(route(table, 'shop.example.com', '/static'), { kind: 'static', site: assets, target: '/', owner: shop });
  assert.deepEqual(route(table, 'shop.example.com', '/static?x=1'), { kind: 'static', site: assets, target: '/?x=1', owner: shop });
  assert.deepEqual(route(table, 'shop.example.com', '/staticky'), { kind: 'proxy', upstreams: shopUpstreams, maxBodyBytes: null, owner: shop });
});

test('a static site serves every path; a fallback site catches unknown hosts', () => {
  const catchAll: SiteRoutes = { mounts: [], upstreams: null, fallback: site };
  const only: RouteTable = { hosts: new Map(), fallbackSite: catchAll };
  assert.deepEqual(route(only, 'anything', '/a/b'), { kind: 'static', site, target: '/a/b', owner: catchAll });
  const empty: RouteTable = { hosts: new Map(), fallbackSite: { mounts: [], upstreams: null, fallback: null } };
  assert.deepEqual(route(empty, 'x', '/'), { kind: 'not-found' });
});
