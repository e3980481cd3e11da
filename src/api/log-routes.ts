import { BerthError } from '../errors.ts';
import { parseDrainUrl } from '../platform/drain-policy.ts';
import type { LogDrains } from '../platform/log-drains.ts';
import * as names from '../platform/names.ts';
import type { Store } from '../platform/store.ts';
import type { ApiRequest, ApiServer } from './api-server.ts';

/**
 * Log drains (docs/API.md): list, add, remove, per app. A drain URL may hold
 * a token, so it is answered only redacted, and the audit row names the
 * drain's id and kind, never its URL.
 */
export function registerLogRoutes(api: ApiServer, store: Store, drains: LogDrains): void {
  const appOf = (req: ApiRequest) => store.getApp(names.appName(req.params.app ?? '')).name;
  function audited<T>(actor: string, action: string, target: string, work: () => Promise<T>, detail: () => Record<string, string | number>): Promise<T> {
    return work().then(
      (result) => {
        store.audit({ actor, action, target, result: 'ok', detail: detail() });
        return result;
      },
      (err: unknown) => {
        store.audit({ actor, action, target, result: 'error', detail: { ...detail(), error: err instanceof BerthError ? err.code : 'error' } });
        throw err;
      },
    );
  }

  api.router
    .add('GET', '/apps/:app/drains', async (req) => ({ body: { drains: drains.list(appOf(req)) } }))
    .add('POST', '/apps/:app/drains', async (req) => {
      const app = appOf(req);
      const body = await req.json();
      if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new BerthError('BERTH_E_BAD_JSON', 'the request body must be a JSON object', { status: 400 });
      const { url } = body as Record<string, unknown>;
      let kind = 'unknown';
      let id: number | null = null;
      const drain = await audited(
        req.actor,
        'drains.add',
        app,
        async () => {
          kind = parseDrainUrl(url).kind;
          const added = drains.add(app, url as string);
          id = added.id;
          return added;
        },
        (): Record<string, string | number> => (id === null ? { kind } : { kind, id }),
      );
      return { status: 201, body: { drain } };
    })
    .add('DELETE', '/apps/:app/drains/:id', async (req) => {
      const app = appOf(req);
      const text = req.params.id ?? '';
      const id = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(id)) throw new BerthError('BERTH_E_DRAIN_NOT_FOUND', `the app "${app}" has no drain ${text.slice(0, 20)}`, { hint: `See berth drains list --app ${app}.`, status: 404 });
      const removed = await audited(req.actor, 'drains.remove', app, () => drains.remove(app, id), () => ({ id }));
      return { body: { removed } };
    });
}
