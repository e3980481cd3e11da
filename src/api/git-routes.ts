import { advertiseRefs, serviceRpc, type GitRunner } from '../git/index.ts';
import type { ApiServer } from './api-server.ts';

/**
 * git's smart HTTP protocol on the API listener (docs/API.md): push and
 * fetch at /git/NAME.git, authenticated like every route, or with HTTP basic
 * auth whose password is an API token (so git's credential helpers work).
 */
export function registerGitRoutes(api: ApiServer, git: GitRunner, log: (line: string) => void): void {
  api.allowBasicAuth('/git/');
  api.router
    .add('GET', '/git/:repo/info/refs', async (req) => ({ raw: await advertiseRefs(git, req.params.repo ?? '', req.query.get('service'), req.actor) }))
    .add('POST', '/git/:repo/git-receive-pack', async (req) => ({ raw: await serviceRpc(git, req.params.repo ?? '', 'receive-pack', req.raw, req.actor, log) }))
    .add('POST', '/git/:repo/git-upload-pack', async (req) => ({ raw: await serviceRpc(git, req.params.repo ?? '', 'upload-pack', req.raw, req.actor, log) }));
}
