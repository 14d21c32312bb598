/** Command-line parsing shared by the commands: strict, with one-line reasons. */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** Bad command-line input: main prints the reason and the usage, exit 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parse(args: string[], options: Options, positionals: { min: number; max: number; names: string }) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(String((e as Error).message).split("\n")[0]!.replace(/\. To specify a positional.*$/, ""));
  }
  const n = parsed.positionals.length;
  if (n < positionals.min) throw new UsageError(`missing ${positionals.names}`);
  if (n > positionals.max) throw new UsageError(`unexpected argument '${parsed.positionals[positionals.max]}'`);
  return parsed;
}

/** A number option within [min, max]; `integer` rejects fractions. */
export function num(
  name: string,
  value: unknown,
  fallback: number,
  range: { min: number; max: number; integer?: boolean },
): number {
  if (value === undefined) return fallback;
  const s = String(value).trim();
  const ok = range.integer ? /^[+-]?\d+$/.test(s) : /^[+-]?(\d+\.?\d*|\.\d+)$/.test(s);
  const v = Number(s);
  if (!ok || !Number.isFinite(v)) throw new UsageError(`${name} must be ${range.integer ? "an integer" : "a number"}, got '${s}'`);
  if (v < range.min || v > range.max) throw new UsageError(`${name} must be from ${range.min} to ${range.max}, got ${s}`);
  return v;
}

/** An element name as the commands take it: "foo" or "/foo". */
export function elementName(s: string): string {
  const bare = s.replace(/^\//, "");
  if (!bare) throw new UsageError("the element name is empty");
  return bare;
}
