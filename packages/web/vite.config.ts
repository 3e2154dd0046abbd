import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The server serves dist/ at `/` under a CSP without inline scripts: the build must emit none.
export default defineConfig({
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true, modulePreload: { polyfill: false }, sourcemap: false, assetsInlineLimit: 0 },
  server: { proxy: { "/api": "http://127.0.0.1:8200" } },
});
