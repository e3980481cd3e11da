import { cronJob, releaseJob } from './jobs.ts';
import { domainIngress } from './ingress.ts';
import type { KubeObject } from './object.ts';
import { resolveDeployment, type AppDeployment } from './spec.ts';
import { processDeployment, webDisruptionBudget, webService } from './workloads.ts';

/**
 * Every object of one release except the config Secret (configSecret makes
 * it from the values, which the spec never holds), in the order to apply
 * them: the release Job first (it must succeed before anything else
 * changes), then the Deployments, web's Service and PodDisruptionBudget,
 * the Ingresses and the CronJobs. Pure: the same spec gives the same
 * objects.
 */
export function appObjects(spec: AppDeployment): KubeObject[] {
  const resolved = resolveDeployment(spec);
  const objects: KubeObject[] = [];
  const job = releaseJob(resolved);
  if (job !== null) objects.push(job);
  for (const process of resolved.processes) objects.push(processDeployment(resolved, process));
  if (resolved.web !== null) {
    objects.push(webService(resolved, resolved.web));
    objects.push(webDisruptionBudget(resolved, resolved.web));
  }
  for (const domain of resolved.domains) objects.push(domainIngress(resolved, domain));
  for (const job of resolved.cron) objects.push(cronJob(resolved, job));
  return objects;
}
