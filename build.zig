//! Builds libxbuf.so, the C tests and the C tools. Zig 0.15.2, pinned in tools/zig
//! (installed in .zig-toolchain/, not over the machine's own):
//! `tools/zig build` runs it.
//!
//!   tools/zig build        zig-out/lib/libxbuf.so, zig-out/bin/* (tests, tools)
//!   tools/zig build test   run every C test (test/c/t_*.c), one program per feature
//!   tools/zig build sanitize the same tests built by the host gcc under ASan+UBSan and TSan
//!   tools/zig build packages the npm platform packages, cross-built:
//!                          zig-out/npm/linux-{x64,arm64}-{gnu,musl}/ (libxbuf.so,
//!                          include/, LICENSE, README.md, a generated package.json
//!                          @xbuf/linux-<cpu>-<libc> at the main package's version);
//!                          -Dplatforms=linux-x64-gnu,... builds only those
//!
//! Every csrc/*.c file is part of the library; every test/c/t_*.c file is a
//! test program (peer_*.c: helper processes of the tests, dump_*.c: programs
//! that print C facts for the TypeScript tests); every tools/c/*.c and
//! bench/c/*.c file is a program linked against the library. Adding a file
//! needs no edit here. Headers: include/ (installed), test/check.h.
const std = @import("std");

/// The one compiler flag list of the library and its programs, one flag a
/// line: test/c/sanitize.sh and test/kernel/run.sh read the same file.
fn cFlags(b: *std.Build) []const []const u8 {
    const text = b.build_root.handle.readFileAlloc(b.allocator, "csrc/cflags", 4096) catch @panic("csrc/cflags");
    var list: std.ArrayList([]const u8) = .empty;
    var it = std.mem.tokenizeAny(u8, text, " \t\n");
    while (it.next()) |flag| list.append(b.allocator, flag) catch @panic("OOM");
    return list.items;
}

fn cFilesIn(b: *std.Build, dir: []const u8, prefix: []const u8) []const []const u8 {
    var list: std.ArrayList([]const u8) = .empty;
    var d = b.build_root.handle.openDir(dir, .{ .iterate = true }) catch return &.{};
    defer d.close();
    var it = d.iterate();
    while (it.next() catch null) |entry| {
        if (entry.kind != .file) continue;
        if (!std.mem.endsWith(u8, entry.name, ".c")) continue;
        if (!std.mem.startsWith(u8, entry.name, prefix)) continue;
        list.append(b.allocator, b.fmt("{s}/{s}", .{ dir, entry.name })) catch @panic("OOM");
    }
    std.mem.sort([]const u8, list.items, {}, struct {
        fn lt(_: void, a: []const u8, z: []const u8) bool {
            return std.mem.lessThan(u8, a, z);
        }
    }.lt);
    return list.items;
}

/// The headers of every exported call, and the ones they include.
const installed_headers = [_][]const u8{ "xbuf.h", "xbuf/abi.h", "xbuf/fast.h", "xbuf/kernel.h", "xbuf/latmus.h" };

fn addLib(b: *std.Build, target: std.Build.ResolvedTarget, optimize: std.builtin.OptimizeMode, c_flags: []const []const u8) *std.Build.Step.Compile {
    const lib_mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
    lib_mod.addIncludePath(b.path("include"));
    lib_mod.addCSourceFiles(.{ .files = cFilesIn(b, "csrc", ""), .flags = c_flags });
    const lib = b.addLibrary(.{ .linkage = .dynamic, .name = "xbuf", .root_module = lib_mod });
    lib.setVersionScript(b.path("csrc/libxbuf.map"));
    return lib;
}

/// One npm platform package: its folder under zig-out/npm, the Zig target
/// (glibc with its floor: no symbol version above 2.28, checked by
/// tools/check-glibc-floor.sh), and the package.json os/cpu/libc fields.
const Platform = struct { name: []const u8, query: []const u8, cpu: []const u8, libc: []const u8, what: []const u8 };
const platforms = [_]Platform{
    .{ .name = "linux-x64-gnu", .query = "x86_64-linux-gnu.2.28", .cpu = "x64", .libc = "glibc", .what = "Linux x64, glibc 2.28 or later" },
    .{ .name = "linux-arm64-gnu", .query = "aarch64-linux-gnu.2.28", .cpu = "arm64", .libc = "glibc", .what = "Linux arm64, glibc 2.28 or later" },
    .{ .name = "linux-x64-musl", .query = "x86_64-linux-musl", .cpu = "x64", .libc = "musl", .what = "Linux x64, musl" },
    .{ .name = "linux-arm64-musl", .query = "aarch64-linux-musl", .cpu = "arm64", .libc = "musl", .what = "Linux arm64, musl" },
};

/// The main package's version: every platform package carries the same one.
fn packageVersion(b: *std.Build) []const u8 {
    const text = b.build_root.handle.readFileAlloc(b.allocator, "package.json", 1 << 20) catch @panic("package.json");
    const parsed = std.json.parseFromSlice(struct { version: []const u8 }, b.allocator, text, .{ .ignore_unknown_fields = true }) catch @panic("package.json: no version");
    return parsed.value.version;
}

fn addPackages(b: *std.Build, optimize: std.builtin.OptimizeMode, c_flags: []const []const u8) void {
    const step = b.step("packages", "Cross-build the npm platform packages into zig-out/npm/<platform>/");
    const only = b.option([]const u8, "platforms", "Comma-separated platform packages to build (default: all four)");
    const version = packageVersion(b);
    for (platforms) |p| {
        if (only) |list| {
            var it = std.mem.tokenizeScalar(u8, list, ',');
            const wanted = while (it.next()) |name| {
                if (std.mem.eql(u8, name, p.name)) break true;
            } else false;
            if (!wanted) continue;
        }
        const query = std.Target.Query.parse(.{ .arch_os_abi = p.query }) catch @panic(p.query);
        const lib = addLib(b, b.resolveTargetQuery(query), optimize, c_flags);
        const dir = b.fmt("npm/{s}", .{p.name});
        // The rest of the folder is installed after the library only: a failed
        // build leaves no package.json for a package without its libxbuf.so.
        const so = b.addInstallFileWithDir(lib.getEmittedBin(), .{ .custom = dir }, "libxbuf.so");
        step.dependOn(&so.step);
        const install = struct {
            fn file(bb: *std.Build, top: *std.Build.Step, after: *std.Build.Step, src: std.Build.LazyPath, d: []const u8, dest: []const u8) void {
                const f = bb.addInstallFileWithDir(src, .{ .custom = d }, dest);
                f.step.dependOn(after);
                top.dependOn(&f.step);
            }
        }.file;
        for (installed_headers) |h|
            install(b, step, &so.step, b.path(b.fmt("include/{s}", .{h})), dir, b.fmt("include/{s}", .{h}));
        install(b, step, &so.step, b.path("LICENSE"), dir, "LICENSE");
        const files = b.addWriteFiles();
        const manifest = files.add("package.json", b.fmt(
            \\{{
            \\  "name": "@xbuf/{s}",
            \\  "version": "{s}",
            \\  "description": "libxbuf.so for the xbuf package: {s}",
            \\  "license": "MIT",
            \\  "os": ["linux"],
            \\  "cpu": ["{s}"],
            \\  "libc": ["{s}"],
            \\  "files": ["libxbuf.so", "include", "LICENSE"],
            \\  "exports": {{
            \\    "./libxbuf.so": "./libxbuf.so",
            \\    "./package.json": "./package.json"
            \\  }}
            \\}}
            \\
        , .{ p.name, version, p.what, p.cpu, p.libc }));
        const readme = files.add("README.md", b.fmt(
            \\# @xbuf/{s}
            \\
            \\`libxbuf.so` ({s}) and its C headers, for the `xbuf` package, which
            \\lists this package as an optional dependency and loads the library
            \\from it at run time. Install `xbuf`, not this package.
            \\
        , .{ p.name, p.what }));
        install(b, step, &so.step, manifest, dir, "package.json");
        install(b, step, &so.step, readme, dir, "README.md");
    }
}

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.option(std.builtin.OptimizeMode, "optimize", "Debug, ReleaseSafe, ReleaseFast (default) or ReleaseSmall") orelse .ReleaseFast;

    const c_flags = cFlags(b);
    const lib = addLib(b, target, optimize, c_flags);
    b.installArtifact(lib);
    for (installed_headers) |h|
        b.installFile(b.fmt("include/{s}", .{h}), b.fmt("include/{s}", .{h}));

    // C programs linked against the library: tests and tools.
    const test_step = b.step("test", "Run the C tests (exit 0 pass, 1 fail, 77 skip)");
    const run_all = b.addSystemCommand(&.{ "bash", "test/c/run.sh" });
    run_all.setCwd(b.path("."));
    run_all.has_side_effects = true;
    test_step.dependOn(&run_all.step);

    const groups = [_]struct { dir: []const u8, prefix: []const u8 }{
        .{ .dir = "test/c", .prefix = "t_" },
        .{ .dir = "test/c", .prefix = "peer_" },
        .{ .dir = "test/c", .prefix = "dump_" },
        .{ .dir = "tools/c", .prefix = "" },
        .{ .dir = "bench/c", .prefix = "" },
    };
    for (groups) |g| {
        for (cFilesIn(b, g.dir, g.prefix)) |file| {
            const stem = std.fs.path.stem(file);
            const mod = b.createModule(.{ .target = target, .optimize = optimize, .link_libc = true });
            mod.addIncludePath(b.path("include"));
            mod.addIncludePath(b.path("test"));
            mod.addIncludePath(b.path("test/c"));
            mod.addCSourceFile(.{ .file = b.path(file), .flags = c_flags });
            mod.linkLibrary(lib);
            const exe = b.addExecutable(.{ .name = stem, .root_module = mod });
            exe.root_module.addRPathSpecial("$ORIGIN/../lib");
            const install = b.addInstallArtifact(exe, .{});
            b.getInstallStep().dependOn(&install.step);
            run_all.step.dependOn(&install.step);
        }
    }

    const sanitize = b.step("sanitize", "Run the C tests built by gcc with ASan+UBSan, then with TSan");
    const run_san = b.addSystemCommand(&.{ "bash", "test/c/sanitize.sh" });
    run_san.setCwd(b.path("."));
    run_san.has_side_effects = true;
    sanitize.dependOn(&run_san.step);

    addPackages(b, optimize, c_flags);
}
