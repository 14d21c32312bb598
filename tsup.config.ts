import { defineConfig } from "tsup";

export default defineConfig({
  // One entry per subpath export of package.json: ".", "./cli", "./latmus", "./bridge".
  entry: {
    index: "src/index.ts",
    "cli/main": "src/cli/main.ts",
    "latmus/index": "src/latmus/index.ts",
    "bridge/index": "src/bridge/index.ts",
  },
  format: ["esm"],
  dts: true,
  clean: true,
  target: "es2022",
  // The NATS packages are optional peer dependencies: imported, never bundled.
  external: ["bun:ffi", /^@nats-io\//],
});
