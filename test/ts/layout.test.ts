/**
 * src/layout.ts against the C compiler: test/c/dump_layout.c prints
 * sizeof/offsetof of every struct and field the binding reads; each must
 * match the layout module exactly (same fields, same offsets, same size).
 */
import { describe, expect, test } from "vitest";
import { defineRecord, XBuf, XBufError, type FieldType, type RecordLayout } from "../../src/index.ts";
import { C_STRUCTS, XbufLatmusInfo } from "../../src/layout.ts";
import { cFacts } from "./helpers.ts";

/** Every difference between a C struct and its layout, one line each; [] when they agree. */
function layoutDiff(name: string, c: { size: number; offsets: Record<string, number> }, ts: RecordLayout<Record<string, FieldType>>): string[] {
  const out: string[] = [];
  if (c.size !== ts.size) out.push(`sizeof(struct ${name}) is ${c.size}, the layout says ${ts.size}`);
  for (const [field, off] of Object.entries(c.offsets)) {
    const mine = ts.offsets[field];
    if (mine === undefined) out.push(`struct ${name}: field ${field} (offset ${off}) missing from the layout`);
    else if (mine !== off) out.push(`offsetof(struct ${name}, ${field}) is ${off}, the layout says ${mine}`);
  }
  for (const field of Object.keys(ts.offsets)) {
    if (!(field in c.offsets)) out.push(`struct ${name}: the layout has ${field}, C has no such field`);
  }
  return out;
}

describe("C struct layouts", () => {
  const c = cFacts();

  test("the layout module describes exactly the structs dump_layout prints", () => {
    expect(Object.keys(C_STRUCTS).sort()).toEqual(Object.keys(c.structs).sort());
  });

  test.each(Object.keys(C_STRUCTS))("struct %s: sizeof and every offsetof match", (name) => {
    expect(layoutDiff(name, c.structs[name]!, C_STRUCTS[name]!)).toEqual([]);
  });

  test("a wrong field type is caught, naming the fields it moves", () => {
    // struct xbuf_latmus_info with interval_us mistyped as a 64-bit field.
    const entries = Object.entries(XbufLatmusInfo.offsets).map(([f]) => [f, "i32"] as [string, FieldType]);
    const spec = Object.fromEntries(entries) as Record<string, FieldType>;
    for (const f of ["records", "dropped", "samples", "overruns"]) spec[f] = "u64";
    spec.period_us = "u32";
    spec.interval_us = "u64";
    const wrong = defineRecord(spec);
    const diff = layoutDiff("xbuf_latmus_info", c.structs.xbuf_latmus_info!, wrong);
    expect(diff).toContain("offsetof(struct xbuf_latmus_info, interval_us) is 36, the layout says 40");
    expect(diff).toContain("offsetof(struct xbuf_latmus_info, policy) is 40, the layout says 48");
    expect(diff).toContain("sizeof(struct xbuf_latmus_info) is 64, the layout says 72");
  });
});

describe("reserved names (XBUF_RESERVED_NAMES, include/xbuf/abi.h)", () => {
  test("none opens as an element: xbuf ls skips them as ENOENT, with no list of its own", () => {
    const { reserved_names } = cFacts();
    expect(reserved_names.length).toBeGreaterThan(0);
    for (const name of reserved_names) {
      let code = "";
      try {
        XBuf.open(name).close();
      } catch (e) {
        code = (e as XBufError).code;
      }
      expect(code, name).toBe("ENOENT");
    }
  });
});
