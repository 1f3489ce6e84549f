import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

// The console is served by jit-api at / under a strict Content-Security-Policy (no inline
// script): Vite emits hashed files under /assets, cached as immutable.
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    sourcemap: false,
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 2000,
  },
  server: {
    // `npm run dev` against a local jit-api: gRPC-Web on its HTTP port.
    proxy: {
      "/jit.v1.TicketService": "http://127.0.0.1:50052",
      "/console/config.json": "http://127.0.0.1:50052",
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
