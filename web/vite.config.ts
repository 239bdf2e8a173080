import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The admin panel, served by the platform itself under /admin (src/admin/). Built by
// scripts/web-build.mjs at install or first start; assets are content-hashed, so they are cached forever.
export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  plugins: [react()],
  // `npm run web:dev`: the sources with hot reload, calling a platform running beside it (npm start) through
  // this origin, so the session cookie and the CSRF origin check work as they do under /admin.
  server: { proxy: { '/api': process.env.BOXOFFICE_URL ?? 'http://127.0.0.1:8000' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    sourcemap: false,
    // The budget is checked by test/admin/bundle.test.ts against the manifest, not by this warning.
    chunkSizeWarningLimit: 600,
    manifest: true,
  },
});
