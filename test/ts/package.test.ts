/**
 * What `npm pack` ships. The main package: the TS sources, the tsup bundle,
 * LICENSE, and the platform packages as optional dependencies; no native
 * code (no zig-out), no C sources or tests. Each platform package
 * (tools/zig build packages: zig-out/npm/<platform>): the library, every
 * installed header and LICENSE, with os/cpu/libc at the main version. And
 * every subpath export and the `bin` resolve to files that ship.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { IS_DENO, ROOT, spawnSync } from "./helpers.ts";

interface PackFile {
  path: string;
}

/** `npm pack --dry-run --json` in `dir`: the files the tarball would hold. */
function packedFiles(dir = ROOT): string[] {
  if (!existsSync(`${ROOT}dist/index.js`)) throw new Error("dist/ is missing: run bunx --bun tsup first");
  const run = spawnSync(["npm", "pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: dir });
  if (run.code !== 0) throw new Error(`npm pack failed: ${run.stderr}`);
  const [pack] = JSON.parse(run.stdout) as [{ files: PackFile[] }];
  return pack.files.map((f) => f.path).sort();
}

interface Manifest {
  name: string;
  version: string;
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  optionalDependencies: Record<string, string>;
  os: string[];
  cpu: string[];
  libc: string[];
}
const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as Manifest;

/** The platform packages: folder, cpu and libc field. */
const PLATFORMS = [
  { name: "linux-x64-gnu", cpu: "x64", libc: "glibc" },
  { name: "linux-arm64-gnu", cpu: "arm64", libc: "glibc" },
  { name: "linux-x64-musl", cpu: "x64", libc: "musl" },
  { name: "linux-arm64-musl", cpu: "arm64", libc: "musl" },
];

/** Every header of the source tree (include/), each of which must ship: include/xbuf.h... */
const headers = (readdirSync(`${ROOT}include`, { recursive: true }) as string[])
  .filter((f) => f.endsWith(".h"))
  .map((f) => `include/${f}`)
  .sort();

describe("npm pack", () => {
  const files = packedFiles();
  const has = (path: string) => files.includes(path.replace(/^\.\//, ""));

  test("the main package ships the sources, the bundle, LICENSE", () => {
    for (const f of ["LICENSE", "package.json", "README.md", "src/index.ts", "src/ffi/library.ts", "dist/index.js", "dist/index.d.ts"]) {
      expect(has(f), f).toBe(true);
    }
    expect(readFileSync(`${ROOT}LICENSE`, "utf8")).toMatch(/^MIT License/);
  });

  test("ships no native code, no C test, bench or peer program, no C sources or tests", () => {
    const unwanted = files.filter(
      (f) => /^(zig-out|npm|csrc|test|bench|kmod|tools|include|examples|node_modules|\.zig-cache|\.zig-toolchain)\//.test(f) || f === "build.zig" || f.endsWith(".so"),
    );
    expect(unwanted).toEqual([]);
    expect(files.every((f) => /^(src|dist)\//.test(f) || ["LICENSE", "README.md", "package.json"].includes(f)), files.join(" ")).toBe(true);
  });

  test("the platform packages are optional dependencies at the main version", () => {
    expect(pkg.optionalDependencies).toEqual(Object.fromEntries(PLATFORMS.map((p) => [`@xbuf/${p.name}`, pkg.version])));
  });

  test("each built platform package ships the library, every installed header and LICENSE, with os/cpu/libc", () => {
    expect(headers.length).toBeGreaterThanOrEqual(4);
    const built = PLATFORMS.filter((p) => existsSync(`${ROOT}zig-out/npm/${p.name}/package.json`));
    // test/run.sh builds the glibc ones (the musl ones wait for csrc/latmus.c, see test/pkg/smoke.sh).
    expect(built.map((p) => p.name)).toEqual(expect.arrayContaining(["linux-x64-gnu", "linux-arm64-gnu"]));
    for (const p of built) {
      const dir = `${ROOT}zig-out/npm/${p.name}`;
      const manifest = JSON.parse(readFileSync(`${dir}/package.json`, "utf8")) as Manifest;
      expect(manifest, p.name).toMatchObject({ name: `@xbuf/${p.name}`, version: pkg.version, os: ["linux"], cpu: [p.cpu], libc: [p.libc] });
      expect(packedFiles(dir), p.name).toEqual(["LICENSE", "README.md", ...headers, "libxbuf.so", "package.json"].sort());
      for (const h of headers) expect(readFileSync(`${dir}/${h}`, "utf8"), h).toBe(readFileSync(`${ROOT}${h}`, "utf8"));
    }
  });

  test("every export condition and the bin point at shipped files", () => {
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining([".", "./cli", "./latmus"]));
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") {
        expect(has(target), `${subpath}: ${target}`).toBe(true);
        continue;
      }
      // The order runtimes read them in: Bun takes the TS sources; Deno the built
      // JS (it refuses to strip types in node_modules); everything else the bundle.
      expect(Object.keys(target), subpath).toEqual(["types", "bun", "deno", "import", "default"]);
      expect(target.bun, subpath).toMatch(/^\.\/src\/.*\.ts$/);
      for (const c of ["deno", "import", "default"]) expect(target[c], `${subpath} ${c}`).toMatch(/^\.\/dist\/.*\.js$/);
      expect(target.types, subpath).toMatch(/^\.\/dist\/.*\.d\.ts$/);
      for (const [condition, file] of Object.entries(target)) expect(has(file), `${subpath} ${condition}: ${file}`).toBe(true);
    }
    for (const [name, file] of Object.entries(pkg.bin)) expect(has(file), `bin ${name}: ${file}`).toBe(true);
  });

  test("jsr.json: the main version, the same subpaths, the TS sources", () => {
    const jsr = JSON.parse(readFileSync(`${ROOT}jsr.json`, "utf8")) as { version: string; exports: Record<string, string> };
    expect(jsr.version).toBe(pkg.version);
    const bunSources = Object.fromEntries(
      Object.entries(pkg.exports).flatMap(([k, v]) => (typeof v === "string" ? [] : [[k, v.bun]])),
    );
    expect(jsr.exports).toEqual(bunSources);
  });

  // Under Deno, vitest's module runner has no import.meta.resolve ("Invalid arguments"), and the
  // package resolves through its deno/default condition (dist/), not the bun one tested here.
  test.skipIf(IS_DENO)("the subpaths resolve (bun condition: the sources)", async () => {
    expect(import.meta.resolve("xbuf/cli")).toBe(`file://${ROOT}src/cli/main.ts`);
    const cli = await import("xbuf/cli");
    expect(typeof cli.main).toBe("function");
    const latmus = await import("xbuf/latmus");
    expect(latmus.LatmusRecord.size).toBe(24);
  });
});
