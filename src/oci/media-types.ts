// The media types of images, as the OCI image spec and Docker's schema 2 name them.
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const OCI_LAYER_ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
export const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
export const DOCKER_LAYER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

/** What berth asks a registry for when it reads a manifest. */
export const MANIFEST_ACCEPT = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(', ');

export function isIndexType(mediaType: string): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

export function isManifestType(mediaType: string): boolean {
  return mediaType === OCI_MANIFEST || mediaType === DOCKER_MANIFEST;
}

/**
 * A base layer's media type in an OCI manifest: Docker's gzip layers are the
 * same bytes under another name. Foreign (non-distributable) layers, and
 * anything else, have no OCI name berth will write: undefined.
 */
export function ociLayerType(mediaType: string): string | undefined {
  if (mediaType === DOCKER_LAYER_GZIP || mediaType === OCI_LAYER_GZIP) return OCI_LAYER_GZIP;
  if (mediaType === OCI_LAYER_ZSTD || mediaType === OCI_LAYER_TAR) return mediaType;
  return undefined;
}
