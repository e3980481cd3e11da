// The Kubernetes runtime (the platform's side of the seam is src/platform/cluster-activation.ts).
export { KubeRuntime, type KubeRuntimeOptions, type ActivateOptions, type PodLog } from './kube-runtime.ts';
export { ImageMaker, parseRegistryPrefix, parseBaseImages, DEFAULT_BASE_IMAGES, type PushRegistry, type BaseLanguage, type ImageRequest } from './images.ts';
export { deploymentOf, containerArgv, checkCronZones, releaseSecretName, tlsSecretName, certificateCovers, WEB_PORT, type ClusterRelease, type ClusterSettings } from './release-plan.ts';
