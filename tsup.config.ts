import { defineConfig } from "tsup";

export default defineConfig({
  // One entry per subpath export of package.json: ".", "./cli", "./latmus".
  entry: { index: "src/index.ts", "cli/main": "src/cli/main.ts", "latmus/index": "src/latmus/index.ts" },
  format: ["esm"],
  dts: true,
  clean: true,
  target: "es2022",
  external: ["bun:ffi"],
});
