/**
 * src/ffi/library.ts: which libxbuf.so the loader picks. The packages are
 * laid out for real in a temporary node_modules (both libc variants, as Deno
 * and Bun may install them) and resolved by the loader's own createRequire.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { detectLibc, findLibrary, packageRoot, platformPackage } from "../../src/ffi/library.ts";
import { ROOT } from "./helpers.ts";

const GLIBC_MAPS = `7f0000000000-7f0000001000 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000002000-7f0000003000 r-xp 00000000 08:01 124 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2`;
const MUSL_MAPS = `7f0000000000-7f0000001000 r-xp 00000000 08:01 123 /lib/ld-musl-aarch64.so.1
7f0000002000-7f0000003000 r-xp 00000000 08:01 125 /usr/lib/libstdc++.so.6.0.32`;

describe("detectLibc", () => {
  const none = () => false;
  test("from the maps of the process", () => {
    expect(detectLibc({ maps: GLIBC_MAPS, exists: none })).toBe("glibc");
    expect(detectLibc({ maps: MUSL_MAPS, exists: none })).toBe("musl");
    // Alpine names its loader's link libc.musl-<arch>.so.1 too.
    expect(detectLibc({ maps: "7f-7f r-xp 0 0:0 1 /lib/libc.musl-x86_64.so.1", exists: none })).toBe("musl");
  });
  test("from the machine's loaders when the maps say nothing", () => {
    expect(detectLibc({ maps: undefined, exists: (p) => p === "/lib/ld-musl-x86_64.so.1" })).toBe("musl");
    expect(detectLibc({ maps: "", exists: (p) => p === "/lib64/ld-linux-x86-64.so.2" })).toBe("glibc");
    // Both loaders (a glibc machine with the musl package): glibc, as the maps would say.
    expect(detectLibc({ maps: "", exists: (p) => p.startsWith("/lib/ld-musl") || p.startsWith("/lib64/") })).toBe("glibc");
    expect(detectLibc({ maps: undefined, exists: none })).toBe("glibc");
  });
  test("this process (Bun here is a glibc build)", () => {
    expect(detectLibc()).toBe("glibc");
  });
});

test("platformPackage: linux x64/arm64, glibc/musl, nothing else", () => {
  expect(platformPackage("linux", "x64", "glibc")).toBe("@xbuf/linux-x64-gnu");
  expect(platformPackage("linux", "arm64", "musl")).toBe("@xbuf/linux-arm64-musl");
  expect(platformPackage("darwin", "arm64", "glibc")).toBeUndefined();
  expect(platformPackage("linux", "ia32", "glibc")).toBeUndefined();
});

test("packageRoot: the checkout, from src/ffi/", () => {
  expect(`${packageRoot()}/`).toBe(ROOT);
});

describe("findLibrary", () => {
  const tmp = mkdtempSync(join(tmpdir(), "xbuf-library-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  const file = (path: string, text = "") => {
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text);
  };
  // An installed app: node_modules/xbuf (no build.zig) and both libc packages of each CPU.
  const app = join(tmp, "app");
  const xbuf = join(app, "node_modules", "xbuf");
  file(join(xbuf, "package.json"), JSON.stringify({ name: "xbuf", version: "0.1.0" }));
  for (const name of ["linux-x64-gnu", "linux-x64-musl", "linux-arm64-gnu", "linux-arm64-musl"]) {
    const dir = join(app, "node_modules", "@xbuf", name);
    file(join(dir, "package.json"), JSON.stringify({ name: `@xbuf/${name}`, version: "0.1.0", exports: { "./libxbuf.so": "./libxbuf.so" } }));
    file(join(dir, "libxbuf.so"), name);
  }
  const pick = (arch: string, libc: "glibc" | "musl") => findLibrary({ env: undefined, root: xbuf, platform: "linux", arch, libc });

  test("picks the package by detected libc and CPU, with both libcs installed", () => {
    expect(pick("x64", "glibc")).toBe(join(app, "node_modules/@xbuf/linux-x64-gnu/libxbuf.so"));
    expect(pick("x64", "musl")).toBe(join(app, "node_modules/@xbuf/linux-x64-musl/libxbuf.so"));
    expect(pick("arm64", "glibc")).toBe(join(app, "node_modules/@xbuf/linux-arm64-gnu/libxbuf.so"));
    expect(pick("arm64", "musl")).toBe(join(app, "node_modules/@xbuf/linux-arm64-musl/libxbuf.so"));
  });

  test("XBUF_LIBRARY overrides, and must exist", () => {
    const own = join(tmp, "own.so");
    file(own);
    expect(findLibrary({ env: own, root: xbuf, platform: "linux", arch: "x64", libc: "glibc" })).toBe(own);
    expect(() => findLibrary({ env: join(tmp, "nope.so"), root: xbuf })).toThrow(/XBUF_LIBRARY=.*nope\.so: no such file/);
  });

  test("a source checkout uses its zig-out/lib before any package", () => {
    const checkout = join(tmp, "checkout");
    file(join(checkout, "package.json"), JSON.stringify({ name: "xbuf" }));
    file(join(checkout, "build.zig"));
    expect(() => findLibrary({ env: undefined, root: checkout, platform: "linux", arch: "x64", libc: "glibc" })).toThrow(
      /checkout\/zig-out\/lib\/libxbuf\.so \(a source checkout: build it with tools\/zig build/,
    );
    file(join(checkout, "zig-out/lib/libxbuf.so"));
    expect(findLibrary({ env: undefined, root: checkout, platform: "linux", arch: "x64", libc: "glibc" })).toBe(join(checkout, "zig-out/lib/libxbuf.so"));
    // This repository's own tests run that way.
    expect(findLibrary({ env: undefined })).toBe(`${ROOT}zig-out/lib/libxbuf.so`);
  });

  test("a checkout with its Zig wrapper builds the library it lacks (the source build), once, and says why when that fails", () => {
    const checkout = join(tmp, "checkout-zig");
    file(join(checkout, "package.json"), JSON.stringify({ name: "xbuf" }));
    file(join(checkout, "build.zig"));
    file(join(checkout, "tools/zig"));
    const where = { env: undefined, root: checkout, platform: "linux", arch: "x64", libc: "glibc" as const };
    const builds: string[] = [];
    expect(() => findLibrary({ ...where, build: (root) => (builds.push(root), "tools/zig build exited with 1") })).toThrow(
      /a source checkout: build it with tools\/zig build, or bash tools\/install\.sh; tools\/zig build exited with 1/,
    );
    const lib = join(checkout, "zig-out/lib/libxbuf.so");
    expect(findLibrary({ ...where, build: (root) => (builds.push(root), file(lib), undefined) })).toBe(lib);
    expect(findLibrary({ ...where, build: () => "must not build again" })).toBe(lib);
    expect(builds).toEqual([checkout, checkout]);
  });

  test("fails naming each path it looked for and how to override", () => {
    const bare = join(tmp, "bare", "node_modules", "xbuf");
    file(join(bare, "package.json"), JSON.stringify({ name: "xbuf" }));
    let message = "";
    try {
      findLibrary({ env: undefined, root: bare, platform: "linux", arch: "arm64", libc: "musl" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/optional dependency @xbuf\/linux-arm64-musl \(linux arm64, musl\) is not installed/);
    expect(message).toMatch(/set XBUF_LIBRARY=/);
    expect(message).toContain("$XBUF_LIBRARY (not set)");
    expect(message).toContain(`${join(bare, "node_modules/@xbuf/linux-arm64-musl/libxbuf.so")}`);
    expect(message).toContain(`${join(tmp, "bare/node_modules/@xbuf/linux-arm64-musl/libxbuf.so")}`);
    expect(() => findLibrary({ env: undefined, root: bare, platform: "darwin", arch: "arm64" })).toThrow(/no platform package is built for darwin arm64/);
  });
});
