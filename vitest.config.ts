import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/ts/**/*.test.ts"],
    // Run files one at a time: they spawn peer processes and share 2 cores.
    fileParallelism: false,
    pool: "threads",
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
