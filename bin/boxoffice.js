#!/usr/bin/env node
// Runs boxoffice from its TypeScript sources with no build step: `npm install && npm start` is enough.
//
// The sources are bundled with esbuild into node_modules/.cache/boxoffice/ (dependencies stay external)
// and the bundle is what runs. The bundle is rebuilt when a file under src/ changes (path, size and
// modification time of each file make its name), in about 0.3 s; an unchanged tree starts from the
// cached bundle at once. Running the bundle with plain node instead of registering the tsx loader saves
// about 40 MB of memory per process (the loader's hooks run in a thread of their own, a second
// JavaScript heap: docs/performance.md). Stack traces point into the bundle; run with
// NODE_OPTIONS=--enable-source-maps to see source lines (its .map file is written next to it).
//
// BOXOFFICE_LOADER=tsx runs the sources through tsx as before (and so does any failure to build or
// write the bundle, e.g. a read-only node_modules).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, 'src', 'cli', 'main.ts');

/** The bundle for the current sources, built if needed; undefined if it cannot be. */
async function bundle() {
  // Three levels below the repository, like src/platform/db/: paths the sources compute from
  // import.meta.url (the migrations directory) resolve the same from the bundle.
  const dir = join(root, 'node_modules', '.cache', 'boxoffice');
  const hash = createHash('sha256');
  const walk = (path) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name);
      const stat = statSync(full);
      if (stat.isDirectory()) walk(full);
      else hash.update(`${full}\0${stat.size}\0${stat.mtimeMs}\n`);
    }
  };
  walk(join(root, 'src'));
  hash.update(
    `${process.version}\0${statSync(join(root, 'package-lock.json'), { throwIfNoEntry: false })?.mtimeMs}`,
  );
  const file = join(dir, `main-${hash.digest('hex').slice(0, 16)}.mjs`);
  if (statSync(file, { throwIfNoEntry: false })) return file;

  const esbuild = await import('esbuild');
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: `node${process.versions.node.split('.')[0]}`,
      packages: 'external',
      sourcemap: 'external',
      outfile: file,
      write: false,
      logLevel: 'silent',
    });
    mkdirSync(dir, { recursive: true });
    // Several processes may build at once (test suites): each writes its own temporary files and
    // renames them into place; the contents are the same.
    for (const output of result.outputFiles) {
      const temporary = `${output.path}.${process.pid}.tmp`;
      writeFileSync(temporary, output.contents);
      renameSync(temporary, output.path);
    }
  } finally {
    await esbuild.stop();
  }
  // Bundles of earlier sources, unless recent (a process started just before may be about to load one).
  for (const name of readdirSync(dir)) {
    const old = join(dir, name);
    if (!old.startsWith(file) && Date.now() - statSync(old).mtimeMs > 10 * 60_000)
      rmSync(old, { force: true });
  }
  return file;
}

let target;
if (process.env.BOXOFFICE_LOADER !== 'tsx') {
  try {
    target = await bundle();
  } catch (error) {
    process.stderr.write(`boxoffice: running through tsx (could not bundle the sources: ${error.message})\n`);
  }
}
if (target) {
  await import(pathToFileURL(target).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
