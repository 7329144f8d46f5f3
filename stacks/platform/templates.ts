// The one way to render a generated file. Templates hold no logic beyond
// loops and conditionals: their data is computed by the service modules.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";

const TEMPLATES = fileURLToPath(new URL("../../templates/", import.meta.url));
const compiled = new Map<string, HandlebarsTemplateDelegate>();

/** Renders `templates/<name>.hbs`. Strict: a missing value is an error, not an empty string. */
export function render(name: string, data: object): string {
  let template = compiled.get(name);
  if (!template) {
    template = Handlebars.compile(readFileSync(`${TEMPLATES}${name}.hbs`, "utf8"), { strict: true, noEscape: true });
    compiled.set(name, template);
  }
  return template(data);
}

/** For JSON and JS files: the value, serialised, so no template hand-writes JSON. */
export const json = (value: unknown) => JSON.stringify(value, null, 2);

/** One word for a POSIX shell, whatever it holds: single-quoted, so nothing in it is expanded. */
export const shellQuote = (text: string) => `'${text.replace(/'/g, `'\\''`)}'`;
