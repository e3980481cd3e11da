// Kubernetes: the runtime seam's cluster side. Its only door.
export * from './client/index.ts';
