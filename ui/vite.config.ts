import { defineConfig } from 'vite';

// Tauri loads the built files from disk and runs the dev server on a fixed
// port that tauri.conf.json points at, so the port must not drift.
export default defineConfig({
  base: './',
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: 'dist',
    // WebKitGTK on older distributions lags behind; keep the syntax conservative.
    target: ['es2020', 'safari14'],
  },
});
