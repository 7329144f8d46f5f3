// What every Bastide command shares: its `--help`, the language it speaks, and a quiet Node.
//
// A command speaks the association's language (`organisation.language`) once it has read
// the file; before that (its `--help`, a missing file) it speaks the admin's locale
// (LC_ALL, LC_MESSAGES or LANG starting with `fr`), English otherwise.
import type { Association } from "../stacks/config/schema.ts";
import type { Env } from "./stack.ts";

export type Language = "fr" | "en";

/** A message in each language the commands speak. */
export type Localized = Record<Language, string>;

export function localeLanguage(env: Env = process.env): Language {
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || "";
  return /^fr(_|\.|$)/i.test(locale) ? "fr" : "en";
}

export const languageOf = (config: Pick<Association, "organisation">): Language => config.organisation.language;

/** `--help` or `-h` among a command's own arguments (before any `--`). */
export function asksForHelp(argv: readonly string[]): boolean {
  const end = argv.indexOf("--");
  return (end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === "--help" || arg === "-h");
}

/** Answers `--help`/`-h` with the usage on standard output and exits 0; otherwise returns. */
export function answerHelp(argv: readonly string[], usage: Localized, env: Env = process.env): void {
  if (!asksForHelp(argv)) return;
  process.stdout.write(`${usage[localeLanguage(env)].trimEnd()}\n`);
  process.exit(0);
}

/** A usage's first line, printed under a usage error (the whole usage is `--help`'s). */
export const usageLine = (usage: string): string => usage.split("\n")[0]!;

/** Raised for a command line that cannot run as given; the command prints it with its usage and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The association file, which every command needs and none guesses. */
export function requireAssociationFile(file: string | undefined, command: string, env: Env = process.env): string {
  if (file) return file;
  const language = localeLanguage(env);
  throw new UsageError(
    language === "fr"
      ? `Aucun fichier d'association indiqué. Donnez son chemin : npm run ${command} -- chemin/vers/association.yaml (l'exemple est examples/association.yaml).`
      : `No association file given. Give its path: npm run ${command} -- path/to/association.yaml (the example is examples/association.yaml).`,
  );
}

/**
 * Node 22 and 24 warn that `node:sqlite` is experimental when anything loads it, and
 * @pulumi/pulumi 3.270.0 loads every built-in module when it serializes a function
 * (runtime/closure/createClosure.js, computeBuiltInModules: `require(name)` for each of
 * `builtinModules`), which `npm run plan`, `pulumi up` and the tests do for the dynamic
 * provider. Bastide uses no SQLite: that one warning is dropped, every other is shown.
 */
export function silenceSqliteWarning(): void {
  const emit = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type ?? (warning as Error).name;
    if (type === "ExperimentalWarning" && text.startsWith("SQLite is an experimental feature")) return;
    emit(warning, ...rest);
  }) as typeof process.emitWarning;
}
