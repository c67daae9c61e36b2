// Builds the storefront into dist/: one minified bundle plus the static files of public/, and
// the API reference page (dist/api-docs/, Swagger UI from npm), and uPlot for the metrics page.
// `node build.mjs` prints the bundle's size, raw and gzipped.
// `node build.mjs --serve` (npm run dev) rebuilds on every change and serves dist/ on
// http://127.0.0.1:5173 against the API at API_BASE_URL (the local gateway by default), which
// must allow that origin: CORS_ALLOWED_ORIGINS=http://127.0.0.1:5173 local-stack/up.
import { build, context } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const out = new URL('./dist/', import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(new URL('./public/', import.meta.url).pathname, out, { recursive: true });
// The API reference page (public/api-docs/) runs Swagger UI's prebuilt bundle as it is.
for (const file of ['swagger-ui-bundle.js', 'swagger-ui.css']) {
  cpSync(new URL(`./node_modules/swagger-ui-dist/${file}`, import.meta.url).pathname, `${out}api-docs/${file}`);
}
// The charting library of the admin's metrics page (src/pages/metrics.jsx), prebuilt and
// loaded only by that page, so the shop's bundle stays as small as it was (docs/adr/0058).
for (const [file, as] of [['uPlot.iife.min.js', 'uplot.js'], ['uPlot.min.css', 'uplot.css']]) {
  cpSync(new URL(`./node_modules/uplot/dist/${file}`, import.meta.url).pathname, `${out}${as}`);
}
const options = {
  entryPoints: ['src/main.jsx'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outfile: `${out}app.js`,
  legalComments: 'none',
  logLevel: 'warning',
};
if (process.argv.includes('--serve')) {
  const api = process.env.API_BASE_URL || 'http://127.0.0.1:8080';
  writeFileSync(`${out}config.js`, `window.STOREFRONT_CONFIG = { apiBaseUrl: ${JSON.stringify(api)} };\n`);
  const dev = await context({ ...options, minify: false, sourcemap: true });
  await dev.watch();
  const { port } = await dev.serve({ host: '127.0.0.1', port: 5173, servedir: out });
  console.log(`Serving http://127.0.0.1:${port}/ against the API at ${api} (Ctrl-C stops)`);
} else {
  await build(options);
  for (const file of ['app.js', 'styles.css', 'index.html', 'uplot.js']) {
    const bytes = readFileSync(`${out}${file}`);
    console.log(`${file}: ${bytes.length} bytes, ${gzipSync(bytes).length} gzipped`);
  }
}
