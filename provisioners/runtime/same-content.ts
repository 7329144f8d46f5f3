// Whether a service's answer holds what Bastide wants, whatever order the service gave it in.

/**
 * Same JSON whatever the key order; with `unorderedLists`, whatever the order of list items
 * too (Keycloak gives back redirect URIs, roles and mappers in an order of its own).
 */
export function sameContent(a: unknown, b: unknown, { unorderedLists = false } = {}): boolean {
  const canonical = (v: unknown): string => {
    if (Array.isArray(v)) {
      const items = v.map(canonical);
      return `[${(unorderedLists ? items.sort() : items).join(",")}]`;
    }
    if (v && typeof v === "object") {
      const keys = Object.keys(v).sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
    }
    return JSON.stringify(v);
  };
  return canonical(a) === canonical(b);
}
