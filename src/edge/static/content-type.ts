// Content types by file extension. The type comes from the name in the URL
// (like nginx), so a symlink 'a.css' -> 'a.txt' is served as CSS.

const UTF8 = '; charset=utf-8';

// Extension (lower case, no dot) -> media type. Text-like types get a charset
// below, so the table stays readable.
const TYPES: ReadonlyArray<readonly [string, string]> = [
  // documents and code
  ['html', 'text/html'], ['htm', 'text/html'], ['xhtml', 'application/xhtml+xml'],
  ['css', 'text/css'],
  ['js', 'text/javascript'], ['mjs', 'text/javascript'], ['cjs', 'text/javascript'],
  ['json', 'application/json'], ['map', 'application/json'], ['jsonld', 'application/ld+json'],
  ['webmanifest', 'application/manifest+json'],
  ['txt', 'text/plain'], ['text', 'text/plain'], ['log', 'text/plain'],
  ['md', 'text/markdown'], ['markdown', 'text/markdown'],
  ['csv', 'text/csv'], ['tsv', 'text/tab-separated-values'],
  ['xml', 'application/xml'], ['xsl', 'application/xml'], ['rss', 'application/rss+xml'], ['atom', 'application/atom+xml'],
  ['ics', 'text/calendar'], ['vtt', 'text/vtt'], ['yaml', 'text/yaml'], ['yml', 'text/yaml'], ['toml', 'application/toml'],
  ['wasm', 'application/wasm'],
  ['pdf', 'application/pdf'],
  // images
  ['svg', 'image/svg+xml'],
  ['png', 'image/png'], ['apng', 'image/apng'], ['jpg', 'image/jpeg'], ['jpeg', 'image/jpeg'], ['jfif', 'image/jpeg'],
  ['gif', 'image/gif'], ['webp', 'image/webp'], ['avif', 'image/avif'], ['ico', 'image/x-icon'], ['bmp', 'image/bmp'],
  ['tif', 'image/tiff'], ['tiff', 'image/tiff'], ['jxl', 'image/jxl'], ['heic', 'image/heic'],
  // fonts
  ['woff', 'font/woff'], ['woff2', 'font/woff2'], ['ttf', 'font/ttf'], ['otf', 'font/otf'], ['eot', 'application/vnd.ms-fontobject'],
  // audio and video
  ['mp4', 'video/mp4'], ['m4v', 'video/mp4'], ['webm', 'video/webm'], ['ogv', 'video/ogg'], ['mov', 'video/quicktime'],
  ['mp3', 'audio/mpeg'], ['m4a', 'audio/mp4'], ['aac', 'audio/aac'], ['ogg', 'audio/ogg'], ['oga', 'audio/ogg'], ['opus', 'audio/ogg'],
  ['wav', 'audio/wav'], ['flac', 'audio/flac'], ['mid', 'audio/midi'], ['midi', 'audio/midi'],
  ['m3u8', 'application/vnd.apple.mpegurl'], ['ts', 'video/mp2t'],
  // archives and binaries
  ['zip', 'application/zip'], ['gz', 'application/gzip'], ['tgz', 'application/gzip'], ['br', 'application/x-brotli'],
  ['zst', 'application/zstd'], ['bz2', 'application/x-bzip2'], ['xz', 'application/x-xz'], ['7z', 'application/x-7z-compressed'],
  ['tar', 'application/x-tar'], ['rar', 'application/vnd.rar'], ['jar', 'application/java-archive'],
  ['bin', 'application/octet-stream'], ['exe', 'application/octet-stream'], ['dmg', 'application/octet-stream'],
  ['iso', 'application/octet-stream'], ['deb', 'application/octet-stream'], ['rpm', 'application/octet-stream'],
  ['apk', 'application/vnd.android.package-archive'],
  ['doc', 'application/msword'], ['docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ['xls', 'application/vnd.ms-excel'], ['xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
  ['ppt', 'application/vnd.ms-powerpoint'], ['pptx', 'application/vnd.openxmlformats-officedocument.presentationml.presentation'],
  ['odt', 'application/vnd.oasis.opendocument.text'], ['epub', 'application/epub+zip'], ['rtf', 'application/rtf'],
];

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** True for types that are text and so should say which charset they use. */
export function isTextual(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type.endsWith('+json') ||
    type.endsWith('+xml') ||
    type === 'application/json' ||
    type === 'application/xml' ||
    type === 'application/toml'
  );
}

// Full header values are built once, so a lookup is one Map.get.
const BY_EXTENSION: ReadonlyMap<string, string> = new Map(
  TYPES.map(([ext, type]) => [ext, isTextual(type) ? type + UTF8 : type]),
);

/** Content-Type header value for a file name or URL path (query already removed). */
export function contentTypeFor(name: string): string {
  const dot = name.lastIndexOf('.');
  // No dot, or the dot belongs to a directory ('/a.b/c'), or a dotfile ('.env').
  if (dot === -1 || name.indexOf('/', dot) !== -1 || dot === 0 || name.charCodeAt(dot - 1) === 0x2f) return DEFAULT_CONTENT_TYPE;
  let ext = name.slice(dot + 1);
  let type = BY_EXTENSION.get(ext);
  if (type === undefined) {
    ext = ext.toLowerCase();
    type = BY_EXTENSION.get(ext);
  }
  return type ?? DEFAULT_CONTENT_TYPE;
}

/**
 * Whether compressing a body of this type pays off. Images, audio, video,
 * archives and woff/woff2 are already compressed; ttf/otf are not.
 */
export function isCompressible(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type.startsWith('text/')) return true;
  if (type.endsWith('+json') || type.endsWith('+xml')) return true;
  switch (type) {
    case 'application/json':
    case 'application/javascript':
    case 'application/x-javascript':
    case 'application/xml':
    case 'application/wasm':
    case 'application/toml':
    case 'application/xhtml+xml':
    case 'font/ttf':
    case 'font/otf':
    case 'application/vnd.ms-fontobject':
      return true;
    default:
      return false;
  }
}
