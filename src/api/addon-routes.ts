import type { AddonService, CreateResult } from '../addons/index.ts';
import { BerthError } from '../errors.ts';
import { appName, type ReleaseInfo } from '../platform/index.ts';
import { releaseView } from '../platform/release-policy.ts';
import type { ApiRequest, ApiServer } from './api-server.ts';

/**
 * A JSON object body holding only `allowed` keys: a misspelt field
 * (`{"crom": …}`) is refused rather than silently ignored, because ignoring
 * it would turn "change the schedule" into "keep the default".
 */
function body(value: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BerthError('BERTH_E_BAD_JSON', 'the request body must be a JSON object', { status: 400 });
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new BerthError('BERTH_E_BAD_JSON', `unknown field ${JSON.stringify(unknown[0]!.slice(0, 40))} in the request body`, { status: 400, hint: allowed.length === 0 ? 'This route takes no fields.' : `The fields are: ${allowed.join(', ')}.` });
  }
  return value as Record<string, unknown>;
}

function optionalString(fields: Record<string, unknown>, key: string): string | undefined {
  const value = fields[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BerthError('BERTH_E_BAD_JSON', `"${key}" must be a string`, { status: 400 });
  return value;
}

function requiredString(fields: Record<string, unknown>, key: string, hint: string): string {
  const value = optionalString(fields, key);
  if (value === undefined || value === '') throw new BerthError('BERTH_E_USAGE', `"${key}" is required`, { status: 400, hint });
  return value;
}

/** A release an add-on change rolled out: rolled out means serving, so it is the current one. */
function releaseJson(release: ReleaseInfo | null) {
  return release === null ? null : releaseView(release, release.status === 'succeeded' ? release.version : null);
}

function createdJson(result: CreateResult) {
  return { addon: result.addon, release: releaseJson(result.release), warnings: result.warnings };
}

/** `/backups/:id`: ids are what `berth backups list` shows; anything else is a backup that does not exist. */
function backupId(text: string): number {
  const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(id)) throw new BerthError('BERTH_E_BACKUP_NOT_FOUND', `there is no backup ${JSON.stringify(text.slice(0, 20))}`, { status: 404, hint: "berth backups list --app NAME shows each backup's id." });
  return id;
}

/**
 * Add-ons, storage, backups and backup schedules (docs/API.md), each a thin
 * translation to an AddonService call. The service checks names and
 * confirmations and writes the audit log; here bodies are checked strictly
 * and answers shaped. Config var values leave only with `?reveal=1`.
 */
export function registerAddonRoutes(api: ApiServer, addons: AddonService): void {
  const app = (req: ApiRequest) => req.params.app ?? '';
  const confirm = (req: ApiRequest) => req.query.get('confirm') ?? undefined;

  api.router
    .add('GET', '/addons', async () => ({ body: { addons: addons.list() } }))
    .add('GET', '/apps/:app/addons', async (req) => ({ body: { addons: addons.list(app(req)) } }))
    .add('POST', '/apps/:app/addons', async (req) => {
      const fields = body(await req.json(), ['kind', 'as']);
      const kind = requiredString(fields, 'kind', 'One of: postgres, redis, sqlite; e.g. {"kind": "postgres"}.');
      if (kind === 'storage') throw new BerthError('BERTH_E_USAGE', 'storage is not an add-on kind', { status: 400, hint: `Create it with POST /apps/${app(req)}/storage (berth storage create --app ${app(req)}).` });
      if (fields.as !== undefined && typeof fields.as !== 'string') throw new BerthError('BERTH_E_BAD_JSON', '"as" must be a variable name such as "SQLITE_URL"', { status: 400 });
      return { status: 201, body: createdJson(await addons.create(app(req), kind, req.actor, (fields.as as string | undefined) ?? null)) };
    })
    .add('GET', '/apps/:app/addons/:kind', async (req) => ({ body: { addon: addons.info(app(req), req.params.kind ?? '', req.query.get('reveal') === '1') } }))
    .add('DELETE', '/apps/:app/addons/:kind', async (req) => {
      const result = await addons.destroy(app(req), req.params.kind ?? '', confirm(req), req.actor);
      return { body: { finalBackup: result.finalBackup, release: releaseJson(result.release), warnings: result.warnings } };
    })
    .add('GET', '/apps/:app/storage', async (req) => ({ body: { addon: addons.info(app(req), 'storage', req.query.get('reveal') === '1') } }))
    .add('POST', '/apps/:app/storage', async (req) => {
      body(await req.json(), []);
      return { status: 201, body: createdJson(await addons.createStorage(app(req), req.actor)) };
    })
    .add('DELETE', '/apps/:app/storage', async (req) => {
      const result = await addons.destroyStorage(app(req), confirm(req), req.actor);
      return { body: { release: releaseJson(result.release) } };
    })
    .add('GET', '/apps/:app/backups', async (req) => ({ body: { backups: addons.listBackups(app(req)) } }))
    .add('POST', '/apps/:app/backups', async (req) => {
      const fields = body(await req.json(), ['addon']);
      // Answered when the backup is sealed (or has failed): the caller learns the outcome, not a promise of one.
      return { status: 201, body: { backup: await addons.backup(app(req), optionalString(fields, 'addon'), req.actor) } };
    })
    .add('POST', '/backups/:id/restore', async (req) => {
      const id = backupId(req.params.id ?? '');
      const fields = body(await req.json(), ['into', 'confirm', 'app']);
      const into = fields.into;
      if (into !== 'app' && into !== 'new') {
        throw new BerthError('BERTH_E_USAGE', '"into" must be "app" (over the app\'s data; needs "confirm") or "new" (beside it, to look at)', { status: 400 });
      }
      const expected = optionalString(fields, 'app');
      return { body: { restore: await addons.restore(id, into, optionalString(fields, 'confirm'), req.actor, expected === undefined ? undefined : appName(expected)) } };
    })
    .add('GET', '/apps/:app/backups/schedules', async (req) => ({ body: { schedules: addons.schedules(app(req)) } }))
    .add('PUT', '/apps/:app/backups/schedule', async (req) => {
      const fields = body(await req.json(), ['addon', 'cron', 'timezone', 'keep']);
      const cron = requiredString(fields, 'cron', 'A cron expression, e.g. {"cron": "0 3 * * *"} for 03:00 every day; DELETE the schedule to stop it.');
      const timezone = optionalString(fields, 'timezone');
      const keep = fields.keep ?? undefined;
      if (keep !== undefined && (typeof keep !== 'number' || !Number.isInteger(keep))) throw new BerthError('BERTH_E_BAD_JSON', '"keep" must be a whole number', { status: 400 });
      const schedule = addons.schedule(app(req), optionalString(fields, 'addon'), { cron, ...(timezone === undefined ? {} : { timezone }), ...(keep === undefined ? {} : { keep }) }, req.actor);
      return { body: { schedule } };
    })
    .add('DELETE', '/apps/:app/backups/schedule', async (req) => {
      addons.schedule(app(req), req.query.get('addon') ?? undefined, null, req.actor);
      return { body: { schedule: null } };
    });
}
