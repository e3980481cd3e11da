import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RouteBuilder, type RouteSpec, type SiteSpec } from '../../src/edge/index.ts';
import { planStaticResponse, type StaticSite } from '../../src/edge/static/index.ts';
import { tempDir } from './static/helpers.ts';

async function status(site: StaticSite | undefined, target: string): Promise<number> {
  assert.ok(site !== undefined);
  return (await planStaticResponse(site, { method: 'GET', target, headers: {} })).status;
}

function app(key: string, root: string, access: SiteSpec['staticAccess'] = null): SiteSpec {
  return { key, mounts: [{ prefix: '/static', root }], upstreams: null, fallbackRoot: null, staticAccess: access };
}

test('a static root that cannot be served makes its site answer 404; the rest of the table comes into force', async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, 'good'));
  await writeFile(join(base, 'good', 'a.txt'), 'good');
  await mkdir(join(base, 'release'));
  await symlink(base, join(base, 'release', 'out'));
  const lines: string[] = [];
  const builder = new RouteBuilder({ log: (line) => lines.push(line) });
  const spec: RouteSpec = {
    hosts: {
      'good.test': app('good', join(base, 'good')),
      'gone.test': app('gone', join(base, 'missing')),
      'file.test': app('file', join(base, 'good', 'a.txt')),
      'out.test': app('out', join(base, 'release', 'out'), { confine: join(base, 'release'), owner: null }),
    },
    fallback: null,
  };
  const table = RouteBuilder.apply(await builder.prepare(spec));
  assert.equal(await status(table.hosts.get('good.test')?.mounts[0]?.site, '/a.txt'), 200);
  for (const host of ['gone.test', 'file.test', 'out.test']) assert.equal(await status(table.hosts.get(host)?.mounts[0]?.site, '/good/a.txt'), 404, host);
  assert.equal(lines.length, 3, lines.join('\n'));
  assert.match(lines.join('\n'), /missing.*does not exist/);
  assert.match(lines.join('\n'), /out.*leads out of/);

  // Logged once, looked at again on every update: once the folder is there, it is served.
  await builder.prepare(spec);
  assert.equal(lines.length, 3, 'a root that stays unusable is not logged again');
  await mkdir(join(base, 'missing'));
  await writeFile(join(base, 'missing', 'b.txt'), 'back');
  const next = RouteBuilder.apply(await builder.prepare(spec));
  assert.equal(await status(next.hosts.get('gone.test')?.mounts[0]?.site, '/b.txt'), 200);
  await rm(join(base, 'missing'), { recursive: true });
});

test('the same root with another owner or confinement is another site', async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, 'root'));
  const builder = new RouteBuilder();
  const table = RouteBuilder.apply(
    await builder.prepare({
      hosts: {
        'a.test': app('a', join(base, 'root')),
        'b.test': app('b', join(base, 'root'), { confine: base, owner: 1234 }),
      },
      fallback: null,
    }),
  );
  const a = table.hosts.get('a.test')!.mounts[0]!.site;
  const b = table.hosts.get('b.test')!.mounts[0]!.site;
  assert.notEqual(a, b);
  assert.equal(a.owner, null);
  assert.equal(b.owner, 1234);
});
