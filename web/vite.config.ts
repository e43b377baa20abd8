import { defineConfig } from 'vitest/config';

// The gateway serves the built client from WEB_ROOT (this folder's dist/)
// and the API under /api on the same origin. `npm run dev` proxies /api to
// a gateway on 127.0.0.1:8080 (or CADSCRIBE_API).
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks: {
          three: ['three'],
          highlight: ['highlight.js/lib/core', 'highlight.js/lib/languages/python'],
        },
      },
    },
  },
  server: {
    proxy: {
      '/api': { target: process.env.CADSCRIBE_API ?? 'http://127.0.0.1:8080', changeOrigin: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['tests/**/*.test.ts'],
  },
});
