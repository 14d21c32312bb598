import { defineConfig } from "vitest/config";

/**
 * One suite, two runtimes: `bunx --bun vitest run` and
 * `deno run -A node_modules/vitest/vitest.mjs run` (npm run test:deno).
 * Under Deno the test files run in forked Deno processes (pool "forks"),
 * each with V8's gc() for the finalizer test: Deno reads DENO_V8_FLAGS,
 * which the forked processes inherit (vitest's worker threads would get
 * no V8 flags, so no gc()).
 */
const deno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
if (deno) process.env.DENO_V8_FLAGS = [process.env.DENO_V8_FLAGS, "--expose-gc"].filter(Boolean).join(",");

export default defineConfig({
  test: {
    include: ["test/ts/**/*.test.ts"],
    // Run files one at a time: they spawn peer processes and share 2 cores.
    fileParallelism: false,
    pool: deno ? "forks" : "threads",
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
