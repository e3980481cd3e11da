// Checks berth's Kubernetes objects against the API schemas of the newest
// Kubernetes that kubernetes-models ships (its classes validate with the
// OpenAPI schemas of that release), and for fields the schemas do not
// know (known-fields.ts). Every test that makes an object runs it through
// here.
import assert from 'node:assert/strict';
import { Deployment } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Secret, Service } from 'kubernetes-models/v1';
import type { KubeObject } from '../../src/kubernetes/index.ts';
import { unknownFields } from './known-fields.ts';

type ModelClass = new (data?: never) => { validate(): void; toJSON(): unknown };
const MODELS: Record<string, ModelClass> = { Deployment, CronJob, Job, Ingress, PodDisruptionBudget, Secret, Service };

/** Throws unless the object is of a kind berth makes, at that kind's current apiVersion, and valid by its schema. */
export function assertValidObject(object: KubeObject): void {
  const Model = MODELS[object.kind];
  assert.ok(Model, `${object.kind} is not a kind berth makes`);
  const expected = new Model().toJSON() as { apiVersion: string };
  assert.equal(object.apiVersion, expected.apiVersion, `${object.kind} ${object.metadata.name}: apiVersion`);
  const model = new Model(structuredClone(object) as never);
  assert.doesNotThrow(() => model.validate(), `${object.kind} ${object.metadata.name} does not validate`);
  assert.deepEqual(unknownFields(object), [], `${object.kind} ${object.metadata.name}: fields the API does not have`);
}

export function assertAllValid(objects: readonly KubeObject[]): void {
  assert.ok(objects.length > 0);
  for (const object of objects) assertValidObject(object);
}

/** Label values and most names: DNS-1123 labels. */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
