/**
 * What `npm pack` ships: the library, its installed headers, the TS
 * sources and the tsup bundle, LICENSE; not the C test, bench and peer
 * programs of zig-out/bin, nor the C sources and tests. And every
 * subpath export and the `bin` resolve to files that ship.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { IS_DENO, ROOT, spawnSync } from "./helpers.ts";

interface PackFile {
  path: string;
}

/** `npm pack --dry-run --json`: the files the tarball would hold. */
function packedFiles(): string[] {
  if (!existsSync(`${ROOT}dist/index.js`)) throw new Error("dist/ is missing: run bunx --bun tsup first");
  const run = spawnSync(["npm", "pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT });
  if (run.code !== 0) throw new Error(`npm pack failed: ${run.stderr}`);
  const [pack] = JSON.parse(run.stdout) as [{ files: PackFile[] }];
  return pack.files.map((f) => f.path).sort();
}

const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")) as {
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
};

describe("npm pack", () => {
  const files = packedFiles();
  const has = (path: string) => files.includes(path.replace(/^\.\//, ""));

  test("ships the library, every installed header and LICENSE", () => {
    for (const f of ["zig-out/lib/libxbuf.so", "zig-out/include/xbuf.h", "LICENSE", "package.json", "README.md"]) {
      expect(has(f), f).toBe(true);
    }
    const installed = (readdirSync(`${ROOT}zig-out/include`, { recursive: true }) as string[])
      .filter((f) => f.endsWith(".h"))
      .map((f) => `zig-out/include/${f}`);
    expect(installed.length).toBeGreaterThanOrEqual(4);
    for (const h of installed) expect(has(h), h).toBe(true);
    expect(readFileSync(`${ROOT}LICENSE`, "utf8")).toMatch(/^MIT License/);
  });

  test("ships no C test, bench or peer program, no C sources or tests", () => {
    const unwanted = files.filter((f) => /^(zig-out\/bin|csrc|test|bench|kmod|tools|include|examples|\.zig-cache)\//.test(f) || f === "build.zig");
    expect(unwanted).toEqual([]);
    expect(files.some((f) => f.startsWith("zig-out/") && !/^zig-out\/(lib\/libxbuf\.so|include\/)/.test(f))).toBe(false);
  });

  test("every export condition and the bin point at shipped files", () => {
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining([".", "./cli", "./latmus"]));
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (typeof target === "string") {
        expect(has(target), `${subpath}: ${target}`).toBe(true);
        continue;
      }
      expect(Object.keys(target), subpath).toEqual(["types", "bun", "default"]);
      for (const [condition, file] of Object.entries(target)) expect(has(file), `${subpath} ${condition}: ${file}`).toBe(true);
    }
    for (const [name, file] of Object.entries(pkg.bin)) expect(has(file), `bin ${name}: ${file}`).toBe(true);
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
