// Builds the browser portal (issue #19; docs/portal.md) into dist/portal/:
//   shell.js, portal.css     from src/services/web/portal/browser/ (the page every section shares)
//   pages/<service>.js       from src/services/<service>/portal/browser/page.ts (each section's page)
// Each file is one minified ES module with nothing fetched from elsewhere, written with its
// brotli and gzip forms beside it so the web service serves them precompressed.
// Run by `npm run build` (so `npm install` builds it) and by the tests' global setup.
import { build } from 'esbuild';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'portal');
const shellDir = join(root, 'src', 'services', 'web', 'portal', 'browser');

const entryPoints = { shell: join(shellDir, 'shell.ts') };
for (const service of readdirSync(join(root, 'src', 'services'))) {
  const page = join(root, 'src', 'services', service, 'portal', 'browser', 'page.ts');
  if (existsSync(page)) entryPoints[`pages/${service}`] = page;
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const result = await build({
  entryPoints,
  outdir: out,
  bundle: true,
  format: 'esm',
  minify: true,
  target: ['chrome100', 'firefox100', 'safari15'],
  legalComments: 'none',
  write: false,
  logLevel: 'warning',
});
const files = result.outputFiles.map((file) => ({ path: file.path, bytes: Buffer.from(file.contents) }));
const css = join(shellDir, 'portal.css');
if (existsSync(css)) files.push({ path: join(out, 'portal.css'), bytes: readFileSync(css) });

let total = 0;
for (const { path, bytes } of files) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, bytes);
  const br = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } });
  writeFileSync(`${path}.br`, br);
  writeFileSync(`${path}.gz`, gzipSync(bytes, { level: 9 }));
  total += br.length;
  if (process.env.PORTAL_BUILD_VERBOSE) process.stdout.write(`${relative(root, path)}: ${bytes.length} bytes, ${br.length} brotli\n`);
}
if (process.env.PORTAL_BUILD_VERBOSE) process.stdout.write(`portal: ${files.length} files, ${total} bytes brotli in all\n`);
