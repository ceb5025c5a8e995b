// The dashboard's files on the supervisor's HTTP door: the page at `/` for a browser (one that accepts text/html; other
// clients get the JSON identity), its modules, and the libraries it imports (preact, htm, uPlot), read from their
// npm packages: nothing from a CDN, nothing built. Each file is read once and kept.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpPage } from '../../daemon/door.js';

// The page's own files stay in the source tree (they run in the browser as written): from dist/src/supervisor/dashboard.
const PAGE = fileURLToPath(new URL('../../../../src/supervisor/dashboard/page/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// A file beside a package's main file (not every one exports its package.json).
function besideMain(name: string, file: string): string {
  return join(dirname(createRequire(import.meta.url).resolve(name)), file);
}

// The libraries, by the address the page's import map gives them.
const VENDOR: Readonly<Record<string, () => string>> = {
  '/vendor/preact.mjs': () => besideMain('preact', 'preact.mjs'),
  '/vendor/hooks.mjs': () => besideMain('preact/hooks', 'hooks.mjs'),
  '/vendor/htm.mjs': () => besideMain('htm', 'htm.mjs'),
  '/vendor/uplot.mjs': () => besideMain('uplot', 'uPlot.esm.js'),
  '/vendor/uplot.css': () => besideMain('uplot', 'uPlot.min.css'),
};

// Every page of the door: no framing by other sites (its buttons act), no sniffing, no referrer.
const GUARD = { 'x-content-type-options': 'nosniff', 'x-frame-options': 'DENY', 'referrer-policy': 'no-referrer' };

let files: Map<string, HttpPage> | null = null;

function load(): Map<string, HttpPage> {
  const loaded = new Map<string, HttpPage>();
  for (const entry of readdirSync(PAGE)) {
    const type = TYPES[extname(entry)];
    if (type !== undefined && entry !== 'index.html') loaded.set(`/app/${entry}`, { type, body: readFileSync(join(PAGE, entry)), headers: GUARD });
  }
  for (const [path, file] of Object.entries(VENDOR)) loaded.set(path, { type: TYPES[extname(path)]!, body: readFileSync(file()), headers: GUARD });
  // Every module the page imports at start is fetched at once, not one level of imports at a time (uPlot waits for the
  // first chart).
  const atStart = (path: string): boolean => (path.startsWith('/app/') && path.endsWith('.js') && path !== '/app/main.js') || (path.endsWith('.mjs') && path !== '/vendor/uplot.mjs');
  const modules = [...loaded.keys()].filter(atStart);
  const html = readFileSync(join(PAGE, 'index.html'), 'utf8').replace('<!-- modulepreload -->', modules.map((path) => `<link rel="modulepreload" href="${path}">`).join('\n'));
  // The one inline script is the import map: allowed by its hash, nothing else inline runs.
  const importMap = /<script type="importmap">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';
  const hash = createHash('sha256').update(importMap).digest('base64');
  const policy = `default-src 'none'; script-src 'self' 'sha256-${hash}'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
  loaded.set('/', { type: TYPES['.html']!, body: html, headers: { ...GUARD, 'content-security-policy': policy } });
  return loaded;
}

/** The dashboard's file at `path`, or null (the door answers as for any daemon): `/` only to a browser. */
export function dashboardPage(path: string, accept: string | undefined): HttpPage | null {
  if (path === '/' && !(accept ?? '').includes('text/html')) return null;
  files ??= load();
  return files.get(path) ?? null;
}
