// The kubernetes-models interface of each kind berth makes, read by
// known-fields.ts with the TypeScript checker.
import type { IDeployment } from 'kubernetes-models/apps/v1';
import type { ICronJob, IJob } from 'kubernetes-models/batch/v1';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { ISecret, IService } from 'kubernetes-models/v1';

export interface Models {
  Deployment: IDeployment;
  CronJob: ICronJob;
  Job: IJob;
  Ingress: IIngress;
  PodDisruptionBudget: IPodDisruptionBudget;
  Secret: ISecret;
  Service: IService;
}
