#!/usr/bin/env bash
# The link graph of libxbuf: compile every csrc/*.c to an object (with the
# library's one flag list, csrc/cflags), list each object's undefined
# symbols (nm -u) against the symbols the other objects define, print the
# graph "a.o -> b.o (sym, ...)" and fail on any cycle: each layer of the
# library may only call downward (docs/ARCHITECTURE.md).
#   deps.sh [SRCDIR]   default csrc; CC defaults to gcc, else zig cc
set -u
cd "$(dirname "$0")/../.."
src=${1:-csrc}
CC=${CC:-}
if [ -z "$CC" ]; then
	if command -v gcc > /dev/null; then CC=gcc; else CC="tools/zig cc"; fi
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags=$(tr '\n' ' ' < csrc/cflags)
inc="-Iinclude"
[ -d "$src/include" ] && inc="$inc -I$src/include"	# the tree before include/ moved up
for c in "$src"/*.c; do
	# shellcheck disable=SC2086
	$CC $flags $inc -fPIC -c -o "$out/$(basename "$c" .c).o" "$c" || { echo "deps: 0 passed, 1 failed (compile $c)"; exit 1; }
done
for o in "$out"/*.o; do
	b=$(basename "$o")
	nm --defined-only -g "$o" | awk -v o="$b" 'NF == 3 { print "D", o, $3 }'
	nm -u "$o" | awk -v o="$b" '{ print "U", o, $NF }'
done > "$out/syms"
python3 - "$out/syms" <<'EOF'
import sys
defs, uses = {}, {}
for line in open(sys.argv[1]):
    kind, obj, sym = line.split()
    if kind == "D":
        defs[sym] = obj
    else:
        uses.setdefault(obj, set()).add(sym)
objs = sorted({o for o, *_ in (l.split()[1:] for l in open(sys.argv[1]))})
edges = {o: {} for o in objs}
for o, syms in uses.items():
    for s in syms:
        d = defs.get(s)
        if d and d != o:
            edges[o].setdefault(d, []).append(s)
print("link graph (object -> objects it calls, with the symbols):")
for o in objs:
    if not edges[o]:
        print(f"  {o} -> (nothing)")
    for d in sorted(edges[o]):
        print(f"  {o} -> {d} ({', '.join(sorted(edges[o][d]))})")
# Every cycle through its smallest member, by depth-first search (the graph is small).
cycles, seen = [], set()
def walk(start, node, path):
    for d in sorted(edges[node]):
        if d == start:
            cyc = path[:]
            key = frozenset(cyc)
            if key not in seen:
                seen.add(key)
                cycles.append(cyc)
        elif d > start and d not in path:
            walk(start, d, path + [d])
for o in objs:
    walk(o, o, [o])
for c in cycles:
    print("cycle: " + " -> ".join(c + [c[0]]))
if cycles:
    print(f"deps: 0 passed, 1 failed ({len(cycles)} cycle(s) among {len(objs)} objects)")
    sys.exit(1)
print(f"deps: 1 passed, 0 failed (no cycle among {len(objs)} objects)")
EOF
