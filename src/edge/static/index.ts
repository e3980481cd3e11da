// The static-file subsystem of the edge. This is its only public door:
//
//   const site = await createStaticSite({ root: 'public' });
//   const plan = await planStaticResponse(site, { method, target, headers });
//   await writeStaticResponse(plan, res);   // node:http engine
//
// planStaticResponse decides everything (status, headers, body source) and
// does not depend on node:http, so any engine can carry out its plan.

export { createStaticSite, resolveStaticRoot, unavailableSite, STATIC_DEFAULTS, type StaticSite, type StaticSiteOptions } from './site.ts';
export { planStaticResponse, type StaticRequest } from './plan.ts';
export type { StaticResponse, StaticBody, StaticFile } from './response.ts';
export { writeStaticResponse } from './write-node-http.ts';
export { stripMount } from './mount.ts';
