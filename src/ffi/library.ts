/**
 * Finds libxbuf.so, at run time (never in a postinstall):
 *
 * 1. `$XBUF_LIBRARY`, if set (it must exist);
 * 2. in a source checkout (build.zig beside package.json, which the npm
 *    package does not ship), the checkout's `zig-out/lib/libxbuf.so`; when
 *    it is not built yet and the checkout has its Zig wrapper (tools/zig,
 *    which installs the pinned Zig inside the checkout), it is built there
 *    and then: the source build is the fallback where the sources are;
 * 3. the npm platform package of this machine, `@xbuf/linux-<cpu>-<libc>`,
 *    an optional dependency of `xbuf`, resolved from the package. The libc is
 *    detected (what this process has mapped, else which dynamic loader the
 *    machine has), not guessed from which packages are installed: Deno
 *    installs every optional dependency, and Bun may install both libcs.
 *
 * Else it throws, naming every path it looked at and how to override.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

export type Libc = "glibc" | "musl";

/** What detectLibc reads; tests pass their own. */
export interface LibcProbe {
  /** The text of /proc/self/maps (undefined: unreadable). */
  maps?: string | undefined;
  /** Whether a file exists. */
  exists?: (path: string) => boolean;
}

function readMaps(): string | undefined {
  try {
    return readFileSync("/proc/self/maps", "utf8");
  } catch {
    return undefined;
  }
}

/**
 * The C library of this process: musl if it has musl's loader mapped
 * (`ld-musl-*.so.1`), glibc if it has glibc's `libc.so.6`; when the maps
 * say neither (unreadable, a static runtime), musl if the machine has a musl
 * loader in /lib and no glibc loader, else glibc.
 */
export function detectLibc(probe: LibcProbe = { maps: readMaps(), exists: existsSync }): Libc {
  const maps = probe.maps ?? "";
  if (/\/ld-musl-[^/\s]*\.so\.1\b|\/libc\.musl-/.test(maps)) return "musl";
  if (/\/libc\.so\.6\b|\/libc-2\.[0-9]+\.so\b/.test(maps)) return "glibc";
  const exists = probe.exists ?? existsSync;
  const musl = ["/lib/ld-musl-x86_64.so.1", "/lib/ld-musl-aarch64.so.1"].some(exists);
  const glibc = ["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1", "/lib/x86_64-linux-gnu/libc.so.6", "/lib/aarch64-linux-gnu/libc.so.6"].some(exists);
  return musl && !glibc ? "musl" : "glibc";
}

/** The npm platform package for a platform, CPU and libc, or undefined if none is built for it. */
export function platformPackage(platform: string, arch: string, libc: Libc): string | undefined {
  if (platform !== "linux" || (arch !== "x64" && arch !== "arm64")) return undefined;
  return `@xbuf/linux-${arch}-${libc === "musl" ? "musl" : "gnu"}`;
}

/** The folder of the xbuf package (or checkout) this module is part of: src/ffi/ or dist/ below it. */
export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "xbuf") return dir;
      } catch {
        // not JSON: keep looking
      }
    }
    if (dirname(dir) === dir) throw new Error(`xbuf: no package.json of xbuf above ${from}`);
  }
}

/** Where to look, and what was found: the inputs of findLibrary. */
export interface LibrarySearch {
  env?: string | undefined;
  root?: string;
  platform?: string;
  arch?: string;
  libc?: Libc;
  exists?: (path: string) => boolean;
  /** node_modules lookup: the resolved path of `spec`, or undefined. */
  resolve?: (spec: string) => string | undefined;
  /** The node_modules folders a package is searched in, nearest first. */
  searchPaths?: (name: string) => string[];
  /** Build a checkout's library (tools/zig build); undefined when it worked, else why not. */
  build?: (root: string) => string | undefined;
}

/**
 * `tools/zig build` in a checkout, its output on our stderr (it takes a
 * while the first time: the pinned Zig is installed, then the library
 * built). Undefined when it worked, else what failed.
 */
function buildCheckout(root: string): string | undefined {
  process.stderr.write(`xbuf: ${join(root, "zig-out/lib/libxbuf.so")} is not built yet: tools/zig build\n`);
  const run = spawnSync(join(root, "tools", "zig"), ["build"], { cwd: root, stdio: ["ignore", 2, 2] });
  if (run.error) return `tools/zig build: ${run.error.message}`;
  return run.status === 0 ? undefined : `tools/zig build exited with ${run.status ?? run.signal}`;
}

/** Finds libxbuf.so (see the module comment); throws with every path looked at. */
export function findLibrary(search: LibrarySearch = {}): string {
  const env = "env" in search ? search.env : process.env.XBUF_LIBRARY;
  const exists = search.exists ?? existsSync;
  if (env) {
    if (!exists(env)) throw new Error(`xbuf: XBUF_LIBRARY=${env}: no such file`);
    return env;
  }
  const root = search.root ?? packageRoot();
  const looked: string[] = ["$XBUF_LIBRARY (not set)"];
  const checkout = exists(join(root, "build.zig"));
  if (checkout) {
    const built = join(root, "zig-out", "lib", "libxbuf.so");
    if (exists(built)) return built;
    let why = "";
    if (exists(join(root, "tools", "zig"))) {
      const failed = (search.build ?? buildCheckout)(root);
      if (!failed && exists(built)) return built;
      why = `; ${failed ?? "tools/zig build made no library"}`;
    }
    looked.push(`${built} (a source checkout: build it with tools/zig build, or bash tools/install.sh${why})`);
  }
  const platform = search.platform ?? process.platform;
  const arch = search.arch ?? process.arch;
  const libc = search.libc ?? (platform === "linux" ? detectLibc() : "glibc");
  const name = platformPackage(platform, arch, libc);
  if (name) {
    const req = search.resolve && search.searchPaths ? undefined : createRequire(join(root, "package.json"));
    const resolve =
      search.resolve ??
      ((spec: string) => {
        try {
          return req!.resolve(spec);
        } catch {
          return undefined;
        }
      });
    const resolved = resolve(`${name}/libxbuf.so`);
    if (resolved && exists(resolved)) return resolved;
    let dirs: string[];
    try {
      dirs = search.searchPaths ? search.searchPaths(name) : (req!.resolve.paths(name) ?? []);
    } catch {
      dirs = [];
    }
    if (dirs.length === 0) dirs = [join(root, "node_modules"), join(root, "..")];
    for (const dir of dirs) {
      const path = join(dir, name, "libxbuf.so");
      if (exists(path)) return path;
      looked.push(path);
    }
  }
  const what = name
    ? `the optional dependency ${name} (${platform} ${arch}, ${libc}) is not installed: ` +
      `install it (npm install ${name}; was it left out by --omit=optional?)`
    : `no platform package is built for ${platform} ${arch} (there are linux x64 and arm64, glibc and musl)`;
  throw new Error(
    `xbuf: libxbuf.so not found; ${what}, or set XBUF_LIBRARY=/path/to/libxbuf.so ` +
      `(built from a checkout of xbuf with tools/zig build: zig-out/lib/libxbuf.so). Looked for:\n  ${looked.join("\n  ")}`,
  );
}

/** Where libxbuf.so is: findLibrary() with this process's environment. */
export function libraryPath(): string {
  return findLibrary();
}
