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
import { asksForHelp, localeLanguage, silenceSqliteWarning, usageLine, UsageError, type Language, type Localized } from "./command.ts";
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

/** What the command says, in each language it speaks; the registry's and Git's own words stay as they are. */
const SAYS = {
  en: {
    heading: (day: string) => `Pinned images and their newer releases, as their registries answered on ${day}:\n`,
    security: (evidence: string, source: string) => `SECURITY release: upstream's release notes say "${evidence}" (${source})`,
    noSecurity: (source: string) => `upstream's release notes (${source}) mention no security fix`,
    securityUnknown: (reason: string) => `security: not known, ${reason}`,
    digestFrom: (source: string) => `digest read from ${source}`,
    notChecked: (error: string) => `NOT CHECKED: ${error}`,
    proposed: "newer, proposed:",
    none: "no newer release in its series",
    majorNever: "NEW MAJOR (never proposed as a bump):",
    majorApart: (name: string) => `NEW MAJOR (not in this patch; to take it alone: npm run updates -- --major ${name}):`,
    notProposed: (name: string, tag: string, why: string) => `${name}: ${tag} is another major version: ${why}. Not proposed.`,
    unknownName: (name: string, names: string) => `--major ${name}: no pinned image has that name; the names are ${names}`,
    nothing: "Nothing to change.",
    nothingChecked: (unchecked: number) => `Nothing to change among the images checked; ${unchecked} could not be checked (above): run it again later.`,
    written: (files: string) => `written: ${files} (git diff shows the change)`,
    apply: "To apply it: npm run updates -- --write (or save the patch above and git apply it).",
    review:
      "Before deploying, review: the comments above each changed pin still describe the former release, and each image's " +
      'contract (stacks/services/upstream/) records facts read at the former tag. Then npm run deploy: it backs up first (README, "Upgrading").',
  },
  fr: {
    heading: (day: string) => `Images épinglées et leurs versions plus récentes, selon leurs registres le ${day} :\n`,
    security: (evidence: string, source: string) => `Version de SÉCURITÉ : les notes de version de l'amont disent « ${evidence} » (${source})`,
    noSecurity: (source: string) => `les notes de version de l'amont (${source}) ne mentionnent aucun correctif de sécurité`,
    securityUnknown: (reason: string) => `sécurité : inconnue, ${reason}`,
    digestFrom: (source: string) => `empreinte lue sur ${source}`,
    notChecked: (error: string) => `NON VÉRIFIÉE : ${error}`,
    proposed: "plus récente, proposée :",
    none: "aucune version plus récente dans sa série",
    majorNever: "NOUVELLE MAJEURE (jamais proposée comme simple mise à jour) :",
    majorApart: (name: string) => `NOUVELLE MAJEURE (hors de ce patch ; pour la prendre seule : npm run updates -- --major ${name}) :`,
    notProposed: (name: string, tag: string, why: string) => `${name} : ${tag} est une autre version majeure : ${why}. Non proposée.`,
    unknownName: (name: string, names: string) => `--major ${name} : aucune image épinglée ne porte ce nom ; les noms sont ${names}`,
    nothing: "Rien à changer.",
    nothingChecked: (unchecked: number) => `Rien à changer parmi les images vérifiées ; ${unchecked} n'ont pas pu l'être (ci-dessus) : relancez plus tard.`,
    written: (files: string) => `écrit : ${files} (git diff montre le changement)`,
    apply: "Pour l'appliquer : npm run updates -- --write (ou enregistrez le patch ci-dessus et appliquez-le avec git apply).",
    review:
      "Avant de déployer, relisez : le commentaire au-dessus de chaque épinglage changé décrit encore l'ancienne version, et le contrat " +
      "de chaque image (stacks/services/upstream/) consigne des faits lus à l'ancienne étiquette. Puis npm run deploy : il sauvegarde d'abord (README, « Upgrading »).",
  },
} as const;

type Says = (typeof SAYS)[Language];

const security = (says: Says, language: Language, status: SecurityStatus): string =>
  status.known
    ? status.security
      ? says.security(status.evidence ?? "", status.source)
      : says.noSecurity(status.source)
    : says.securityUnknown(status.reason[language]);

function describeRelease(says: Says, language: Language, label: string, release: Release): string[] {
  return [`  ${label} ${release.reference}`, `      ${says.digestFrom(release.source)}`, `      ${security(says, language, release.security)}`];
}

function describeReport(language: Language, report: ImageReport): string[] {
  const says = SAYS[language];
  const head = `${report.image.name}  ${report.image.reference}`;
  if (!report.ok) return [head, `  ${says.notChecked(report.error[language])}`];
  const lines = [head];
  if (report.bump) lines.push(...describeRelease(says, language, says.proposed, report.bump));
  else lines.push(`  ${says.none}`);
  const later = report.laterSeries;
  if (later) {
    const label = later.rule.laterSeries === "migration" ? says.majorNever : says.majorApart(report.image.name);
    lines.push(...describeRelease(says, language, label, later));
    if (later.rule.why) lines.push(`      ${later.rule.why[language]}`);
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
      out.error(`${new UsageError(SAYS[language].unknownName(values.major, names)).message}\n${usageLine(USAGE[language])}`);
      return 2;
    }
  }

  const says = SAYS[language];
  out.log(says.heading(today));
  const { releaseNotesApi, tagsPageSize } = options;
  const reports = await checkImages(images, { ...(releaseNotesApi ? { releaseNotesApi } : {}), ...(tagsPageSize ? { tagsPageSize } : {}) });
  for (const report of reports) out.log(`${describeReport(language, report).join("\n")}\n`);

  const chosen = (report: ImageReport): Release | undefined => {
    if (!report.ok) return undefined;
    if (values.major === undefined) return report.bump;
    if (report.laterSeries?.rule.laterSeries === "migration") {
      out.error(says.notProposed(report.image.name, report.laterSeries.tag, report.laterSeries.rule.why?.[language] ?? ""));
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
    out.log(unchecked === 0 ? says.nothing : says.nothingChecked(unchecked));
  else {
    const changes = filesToRewrite(root).flatMap((file) => {
      const before = readFileSync(join(root, file), "utf8");
      const after = applyBumps(before, bumps, commentStartOf(file));
      return before === after ? [] : [{ file, before, after }];
    });
    if (values.write) {
      for (const change of changes) writeFileSync(join(root, change.file), change.after);
      out.log(says.written(changes.map((change) => change.file).join(", ")));
    } else {
      out.log(changes.map((change) => patchOf(change.file, change.before, change.after)).join(""));
      out.log(says.apply);
    }
    out.log(says.review);
  }
  return unchecked === 0 ? 0 : 2;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  silenceSqliteWarning();
  // Exits at once: open HTTP keep-alive connections must not hold the process.
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
