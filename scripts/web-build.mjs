// Builds the admin panel (web/) with Vite into node_modules/.cache/boxoffice/web-<hash>/, where the
// platform serves it from (src/admin/). Like the server bundle (bin/boxoffice.js), the hash is taken over
// the path, size and modification time of every file under web/ and the lockfile, so an unchanged tree
// is never rebuilt; `npm install` builds it (postinstall) and so does a start that finds it missing.
// Every text asset is written precompressed too (.br, .gz), so serving it costs no CPU per request.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const COMPRESSIBLE = /\.(js|css|html|svg|json|txt|map|woff)$/;

/** Where the build of the current web/ sources lives (it may not exist yet). */
export function webBuildDir(root) {
  const hash = createHash('sha256');
  const walk = (path) => {
    for (const name of readdirSync(path).sort()) {
      if (name === 'dist' || name === 'node_modules') continue;
      const full = join(path, name);
      const stat = statSync(full);
      if (stat.isDirectory()) walk(full);
      else hash.update(`${relative(root, full)}\0${stat.size}\0${stat.mtimeMs}\n`);
    }
  };
  walk(join(root, 'web'));
  // The lockfile (dependencies) and this script (how it is built) count as sources too.
  for (const file of ['package-lock.json', 'scripts/web-build.mjs'])
    hash.update(`${file}\0${statSync(join(root, file), { throwIfNoEntry: false })?.mtimeMs}\n`);
  return join(root, 'node_modules', '.cache', 'boxoffice', `web-${hash.digest('hex').slice(0, 16)}`);
}

function precompress(dir) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) precompress(full);
    else if (COMPRESSIBLE.test(name)) {
      const contents = readFileSync(full);
      if (contents.length < 512) continue;
      writeFileSync(
        `${full}.br`,
        brotliCompressSync(contents, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
      );
      writeFileSync(`${full}.gz`, gzipSync(contents, { level: 9 }));
    }
  }
}

/**
 * The directory of the current build, building it first when there is none. Processes that build at
 * once each build into their own temporary directory and rename it into place; the first rename wins.
 */
export async function ensureWebBuild(root, log = () => {}) {
  const dir = webBuildDir(root);
  if (statSync(join(dir, 'index.html'), { throwIfNoEntry: false })) return dir;
  log(`building the admin panel into ${relative(root, dir)}`);
  const temporary = `${dir}.${process.pid}.tmp`;
  rmSync(temporary, { recursive: true, force: true });
  const { build } = await import('vite');
  // Vite bundles React's development build when NODE_ENV says so (vitest sets it to `test`): the
  // production build is what is served, whoever builds it.
  const nodeEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: join(root, 'web', 'vite.config.ts'),
      mode: 'production',
      logLevel: 'warn',
      build: { outDir: temporary, emptyOutDir: true },
    });
  } finally {
    if (nodeEnv === undefined) delete process.env.NODE_ENV;
    else process.env.NODE_ENV = nodeEnv;
  }
  precompress(temporary);
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(temporary, dir);
  } catch {
    rmSync(temporary, { recursive: true, force: true }); // another process finished first
  }
  // Builds of earlier sources, unless recent (a process started just before may still serve one).
  for (const name of readdirSync(dirname(dir))) {
    const old = join(dirname(dir), name);
    if (name.startsWith('web-') && old !== dir && Date.now() - statSync(old).mtimeMs > 10 * 60_000)
      rmSync(old, { recursive: true, force: true });
  }
  return dir;
}

// `node scripts/web-build.mjs` (npm's postinstall): build now, so the first start serves at once.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  try {
    const dir = await ensureWebBuild(root, (line) => console.log(`boxoffice: ${line}`));
    console.log(`boxoffice: admin panel ready (${relative(root, dir)})`);
  } catch (error) {
    // Never fail an install over it: the first start builds it again and reports why it cannot.
    console.warn(`boxoffice: the admin panel was not built now (${error.message}); the first start will`);
  }
}
