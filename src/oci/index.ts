// OCI images without a Docker daemon (see docs/ARCHITECTURE.md, "OCI images"):
// a base image pulled from a registry, a release written over it as
// reproducible layers, pushed with the distribution API; blobs kept by
// digest in a local layer cache.
export { buildImage, pullBase, pushImage, DEFAULT_APP_DIR, DEFAULT_UID, type BaseImage, type BuildImageOptions, type BuiltImage, type PushedImage } from './image-builder.ts';
export { RegistryClient, type RegistryOptions, type RegistryCredentials, type BlobSource, type PushOutcome } from './registry-client.ts';
export { LayerCache, type StoredBlob } from './layer-cache.ts';
export { parseImageReference, formatReference, registryEndpoint, type ImageReference } from './reference.ts';
export { hostPlatform, parseManifestDocument, type Descriptor, type Platform, type ImageManifest, type ImageIndex } from './image-json.ts';
export { DEFAULT_IMAGE_LIMITS, DEPENDENCY_FOLDERS, type ImageLimits } from './layer-plan.ts';
export { GZIP_OPTIONS, type BuiltLayer } from './layer-writer.ts';
export { digestOf, isDigest, parseDigest, type Digest } from './digest.ts';
export * as mediaTypes from './media-types.ts';
export { unpackRootfs, resolveInRoot, entryParts, rootName, DEFAULT_ROOTFS_LIMITS, type RootfsLimits, type MountPoints, type UnpackRootfsOptions, type UnpackedRootfs } from './rootfs.ts';
