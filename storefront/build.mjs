// Builds the storefront into dist/: one minified bundle plus the static files of public/.
// `node build.mjs` prints the bundle's size, raw and gzipped.
import { build } from 'esbuild';
import { cpSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const out = new URL('./dist/', import.meta.url).pathname;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(new URL('./public/', import.meta.url).pathname, out, { recursive: true });
await build({
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
});
for (const file of ['app.js', 'styles.css', 'index.html']) {
  const bytes = readFileSync(`${out}${file}`);
  console.log(`${file}: ${bytes.length} bytes, ${gzipSync(bytes).length} gzipped`);
}
