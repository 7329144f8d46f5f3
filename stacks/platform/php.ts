// PHP values for generated PHP config files (Nextcloud's config.php, Framadate's).

export type PhpValue = string | number | boolean | null | PhpValue[] | { [key: string]: PhpValue };

/**
 * A PHP literal for `value`. Strings are single-quoted, where only `\` and `'` are special,
 * so no value can end the string, interpolate a variable or close the PHP block.
 */
export function phpLiteral(value: PhpValue, indent = ""): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new Error(`phpLiteral: ${value} is not an integer PHP reads exactly`);
    return String(value);
  }
  if (typeof value === "string") return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
  const entries: [number | string, PhpValue][] = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (entries.length === 0) return "array ()";
  const inner = `${indent}  `;
  const lines = entries.map(([k, v]) => `${inner}${typeof k === "number" ? k : phpLiteral(k)} => ${phpLiteral(v, inner)},`);
  return `array (\n${lines.join("\n")}\n${indent})`;
}
