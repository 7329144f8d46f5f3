// `npm run updates -- [--write] [--major NAME]`: asks each pinned image's registry for newer
// releases and proposes them as a reviewed change to stacks/services/images.ts (and to a
// Dockerfile that pins the same base): a patch on standard output, or the files rewritten with
// --write. Within an image's series only (34.0.4-apache → 34.0.5-apache); a later series is shown
// and flagged, and written only when asked by name (--major nextcloud), never for a data migration.
//
// Exit code: 0 every image was checked; 2 at least one could not be (each is said, the others are
// still reported and proposed) or the command line is wrong.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { asksForHelp, localeLanguage, silenceSqliteWarning, usageLine, UsageError, type Localized } from "./command.ts";
import type { Env } from "./stack.ts";
import { checkImages, type ImageReport, type PinnedImage, type Release } from "../stacks/services/updates/check.ts";
import { applyBumps, patchOf, type Bump } from "../stacks/services/updates/proposal.ts";
import type { SecurityStatus } from "../stacks/services/updates/release-notes.ts";

const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));
const IMAGES_FILE = "stacks/services/images.ts";

const USAGE: Localized = {
  en: `usage: npm run updates -- [--write] [--major NAME]

Asks the registry of every pinned image (stacks/services/images.ts) for newer releases in the same
variant and series, with the digest the registry answers and whether upstream's release notes call
them security releases, and prints the change to images.ts as a patch to review (--write: applies
it). A new major version is shown apart and never written with the others: --major NAME proposes
that image's next major alone (Nextcloud: one major at a time; PostgreSQL and MariaDB majors are
data migrations and are never proposed). Then: npm run deploy (README, "Upgrading").
Exit code 0: every image was checked; 2: one could not be (said per image).`,
  fr: `usage : npm run updates -- [--write] [--major NOM]

Demande au registre de chaque image épinglée (stacks/services/images.ts) ses versions plus
récentes, de même variante et de même série, avec l'empreinte que le registre donne et si les notes
de version de l'amont parlent de sécurité, et affiche le changement d'images.ts en patch à relire
(--write : l'applique). Une nouvelle version majeure est montrée à part et jamais écrite avec les
autres : --major NOM propose la majeure suivante de cette image seule (Nextcloud : une majeure à la
fois ; PostgreSQL et MariaDB : une migration de données, jamais proposée). Ensuite : npm run deploy
(README, « Upgrading »). Code de sortie 0 : chaque image a été vérifiée ; 2 : l'une n'a pas pu l'être.`,
};

export interface Console {
  log(text: string): void;
  error(text: string): void;
}

export interface Options {
  /** The project folder whose images.ts and docker/*\/Dockerfile are read and rewritten. */
  root?: string;
  /** Where GitHub's API answers, for the release notes (the tests point it at a closed port). */
  releaseNotesApi?: string;
  /** The day written beside a new pin, YYYY-MM-DD. */
  today?: string;
  /** How many tags each page of a registry's tag list asks for (the tests make it small to page). */
  tagsPageSize?: number;
}

/** The pinned references of an images.ts: every IMAGES entry, and the bases of the images Bastide builds (`…_BASE`). */
export async function pinnedImages(imagesFile: string): Promise<PinnedImage[]> {
  // The file's time in the URL: a file rewritten by --write is read anew, not from the module cache.
  const module = (await import(`${pathToFileURL(imagesFile).href}?read=${statSync(imagesFile).mtimeMs}`)) as Record<string, unknown>;
  const images = Object.entries(module.IMAGES as Record<string, string>).map(([name, reference]) => ({ name, reference }));
  const bases = Object.entries(module)
    .filter(([name, value]) => /_BASE$/.test(name) && typeof value === "string")
    .map(([name, reference]) => ({ name, reference: reference as string }));
  return [...images, ...bases];
}

const security = (status: SecurityStatus): string =>
  status.known
    ? status.security
      ? `SECURITY release: upstream's release notes say "${status.evidence}" (${status.source})`
      : `upstream's release notes (${status.source}) mention no security fix`
    : `security: not known, ${status.reason}`;

function describeRelease(label: string, release: Release): string[] {
  return [`  ${label} ${release.reference}`, `      digest read from ${release.source}`, `      ${security(release.security)}`];
}

function describeReport(report: ImageReport): string[] {
  const head = `${report.image.name}  ${report.image.reference}`;
  if (!report.ok) return [head, `  NOT CHECKED: ${report.error}`];
  const lines = [head];
  if (report.bump) lines.push(...describeRelease("newer, proposed:", report.bump));
  else lines.push("  no newer release in its series");
  const later = report.laterSeries;
  if (later) {
    const how =
      later.rule.laterSeries === "migration"
        ? "never proposed as a bump"
        : `not in this patch; to take it alone: npm run updates -- --major ${report.image.name}`;
    lines.push(...describeRelease(`NEW MAJOR (${how}):`, later));
    if (later.rule.why) lines.push(`      ${later.rule.why}`);
  }
  return lines;
}

/** The files a bump rewrites: images.ts, and the Dockerfiles of the images Bastide builds (a FROM pins a base). */
function filesToRewrite(root: string): string[] {
  const docker = join(root, "docker");
  const dockerfiles = existsSync(docker)
    ? readdirSync(docker, { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && existsSync(join(docker, entry.name, "Dockerfile")))
        .map((entry) => join("docker", entry.name, "Dockerfile"))
    : [];
  return [IMAGES_FILE, ...dockerfiles];
}

const commentStartOf = (file: string) => (file.endsWith(".ts") ? "//" : "#");

/** Runs the command as the command line asks; returns the exit code. */
export async function main(argv: string[], env: Env = process.env, out: Console = console, options: Options = {}): Promise<0 | 2> {
  const language = localeLanguage(env);
  if (asksForHelp(argv)) {
    out.log(USAGE[language]);
    return 0;
  }
  let values: { write?: boolean; major?: string };
  try {
    const parsed = parseArgs({ args: argv, options: { write: { type: "boolean", default: false }, major: { type: "string" } } });
    values = parsed.values;
  } catch (error) {
    out.error(`${(error as Error).message}\n${usageLine(USAGE[language])}`);
    return 2;
  }
  const root = options.root ?? REPO_ROOT;
  const today = options.today ?? new Date().toISOString().slice(0, 10);
  let images = await pinnedImages(join(root, IMAGES_FILE));
  if (values.major !== undefined) {
    images = images.filter((image) => image.name === values.major);
    if (images.length === 0) {
      const names = (await pinnedImages(join(root, IMAGES_FILE))).map((image) => image.name).join(", ");
      out.error(`${new UsageError(`--major ${values.major}: no pinned image has that name; the names are ${names}`).message}\n${usageLine(USAGE[language])}`);
      return 2;
    }
  }

  out.log(`Pinned images and their newer releases, as their registries answered on ${today}:\n`);
  const { releaseNotesApi, tagsPageSize } = options;
  const reports = await checkImages(images, { ...(releaseNotesApi ? { releaseNotesApi } : {}), ...(tagsPageSize ? { tagsPageSize } : {}) });
  for (const report of reports) out.log(`${describeReport(report).join("\n")}\n`);

  const chosen = (report: ImageReport): Release | undefined => {
    if (!report.ok) return undefined;
    if (values.major === undefined) return report.bump;
    if (report.laterSeries?.rule.laterSeries === "migration") {
      out.error(`${report.image.name}: ${report.laterSeries.tag} is another major version: ${report.laterSeries.rule.why}. Not proposed.`);
      return undefined;
    }
    return report.laterSeries;
  };
  const bumps: Bump[] = reports.flatMap((report) => {
    const release = chosen(report);
    return release ? [{ from: report.image.reference, to: release.reference, source: release.source, date: today }] : [];
  });

  const unchecked = reports.filter((report) => !report.ok).length;
  if (bumps.length === 0)
    out.log(unchecked === 0 ? "Nothing to change." : `Nothing to change among the images checked; ${unchecked} could not be checked (above): run it again later.`);
  else {
    const changes = filesToRewrite(root).flatMap((file) => {
      const before = readFileSync(join(root, file), "utf8");
      const after = applyBumps(before, bumps, commentStartOf(file));
      return before === after ? [] : [{ file, before, after }];
    });
    if (values.write) {
      for (const change of changes) writeFileSync(join(root, change.file), change.after);
      out.log(`written: ${changes.map((change) => change.file).join(", ")} (git diff shows the change)`);
    } else {
      out.log(changes.map((change) => patchOf(change.file, change.before, change.after)).join(""));
      out.log("To apply it: npm run updates -- --write (or save the patch above and git apply it).");
    }
    out.log(
      "Before deploying, review: the comments above each changed pin still describe the former release, and each image's " +
        "contract (stacks/services/upstream/) records facts read at the former tag. Then npm run deploy: it backs up first (README, \"Upgrading\").",
    );
  }
  return unchecked === 0 ? 0 : 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  silenceSqliteWarning();
  // Exits at once: open HTTP keep-alive connections must not hold the process.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
