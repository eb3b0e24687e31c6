/**
 * File extension → media type, pure. The table covers what a static site serves (nginx's
 * `mime.types` plus the modern web: modules, WebAssembly, AVIF, WebP, woff2, manifests, maps).
 * Text types get `charset=utf-8`, so a browser never guesses. Anything else is
 * `application/octet-stream` (with `X-Content-Type-Options: nosniff` the browser takes us at
 * our word, so the table has to be right for what a page loads: scripts, styles, images, fonts).
 */

const TYPES: Readonly<Record<string, string>> = {
  // documents and text
  html: 'text/html',
  htm: 'text/html',
  shtml: 'text/html',
  xhtml: 'application/xhtml+xml',
  css: 'text/css',
  js: 'text/javascript',
  mjs: 'text/javascript',
  cjs: 'text/javascript',
  json: 'application/json',
  map: 'application/json',
  jsonld: 'application/ld+json',
  webmanifest: 'application/manifest+json',
  xml: 'application/xml',
  xsl: 'application/xml',
  rss: 'application/rss+xml',
  atom: 'application/atom+xml',
  txt: 'text/plain',
  text: 'text/plain',
  log: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  ics: 'text/calendar',
  vtt: 'text/vtt',
  yaml: 'text/yaml',
  yml: 'text/yaml',
  toml: 'text/plain',
  py: 'text/plain',
  c: 'text/plain',
  h: 'text/plain',
  sh: 'text/plain',
  wasm: 'application/wasm',
  pdf: 'application/pdf',
  rtf: 'application/rtf',
  // images
  png: 'image/png',
  apng: 'image/apng',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  jpe: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  avif: 'image/avif',
  svg: 'image/svg+xml',
  svgz: 'image/svg+xml',
  ico: 'image/x-icon',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  jxl: 'image/jxl',
  // fonts
  woff: 'font/woff',
  woff2: 'font/woff2',
  ttf: 'font/ttf',
  otf: 'font/otf',
  eot: 'application/vnd.ms-fontobject',
  // audio and video
  mp3: 'audio/mpeg',
  m4a: 'audio/mp4',
  aac: 'audio/aac',
  oga: 'audio/ogg',
  ogg: 'audio/ogg',
  opus: 'audio/ogg',
  wav: 'audio/wav',
  flac: 'audio/flac',
  weba: 'audio/webm',
  mid: 'audio/midi',
  midi: 'audio/midi',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  webm: 'video/webm',
  ogv: 'video/ogg',
  mov: 'video/quicktime',
  avi: 'video/x-msvideo',
  mkv: 'video/x-matroska',
  mpeg: 'video/mpeg',
  mpg: 'video/mpeg',
  ts: 'video/mp2t',
  m3u8: 'application/vnd.apple.mpegurl',
  mpd: 'application/dash+xml',
  // archives and binaries
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  br: 'application/octet-stream',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  zst: 'application/zstd',
  '7z': 'application/x-7z-compressed',
  tar: 'application/x-tar',
  rar: 'application/vnd.rar',
  jar: 'application/java-archive',
  apk: 'application/vnd.android.package-archive',
  deb: 'application/vnd.debian.binary-package',
  rpm: 'application/x-rpm',
  iso: 'application/octet-stream',
  bin: 'application/octet-stream',
  exe: 'application/octet-stream',
  dll: 'application/octet-stream',
  dmg: 'application/octet-stream',
  img: 'application/octet-stream',
  // office
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  odp: 'application/vnd.oasis.opendocument.presentation',
  epub: 'application/epub+zip',
};

export const DEFAULT_TYPE = 'application/octet-stream';

/** Types worth compressing: text, and binary formats that are not already compressed. */
export function isCompressible(type: string): boolean {
  const base = type.split(';', 1)[0] as string;
  if (base.startsWith('text/')) return true;
  if (base.endsWith('+json') || base.endsWith('+xml')) return true;
  return (
    base === 'application/json' ||
    base === 'application/xml' ||
    base === 'application/wasm' ||
    base === 'application/rtf' ||
    base === 'application/vnd.ms-fontobject' ||
    base === 'font/ttf' ||
    base === 'font/otf' ||
    base === 'image/x-icon' ||
    base === 'image/bmp'
  );
}

function withCharset(type: string): string {
  if (type.startsWith('text/') || type === 'application/json' || type.endsWith('+json') || type === 'application/xml' || type.endsWith('+xml')) {
    return type === 'image/svg+xml' ? type : `${type}; charset=utf-8`;
  }
  return type;
}

/** The lower-cased extension of a file name (`a.TAR.GZ` → `gz`), or '' for none (`.bashrc` has none). */
export function extensionOf(name: string): string {
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? '' : name.slice(dot + 1).toLowerCase();
}

/** The `Content-Type` to send for a file name. */
export function contentTypeFor(name: string, fallback = DEFAULT_TYPE): string {
  const ext = extensionOf(name);
  return withCharset(Object.hasOwn(TYPES, ext) ? (TYPES[ext] as string) : fallback);
}
