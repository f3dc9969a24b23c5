/// <reference types="vitest" />
// Builds the canvas into dist/, which the diffloom server serves at `/`.
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  base: "./",
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    // `npm run dev` talks to a diffloom server on :8188.
    proxy: { "/api": "http://127.0.0.1:8188", "/ws": { target: "ws://127.0.0.1:8188", ws: true },
             "/extensions": "http://127.0.0.1:8188" },
  },
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});
