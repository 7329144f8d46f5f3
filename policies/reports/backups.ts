// What the DPO's documents say of the backups, from `backups:` in the association file
// (stacks/backups/settings.ts) and, when one is given, the last restore drill's record
// (stacks/backups/layout.ts, drillSchema): who holds the copies, how they are protected, how
// long they live, and what that means for erased data. Without `backups:` every document
// keeps saying plainly that none are made.
//
// How restic protects what leaves the server (restic 0.14.0, Debian 12's package; restic/restic
// doc/design.rst, "Repository Format" and "Keys, Encryption and MAC"): every file of the
// repository except the key files and the `config` is encrypted with AES-256 in counter mode
// (CTR) and authenticated with a Poly1305-AES MAC; the data directory's pack files are made of
// parts each encrypted that way; the master key is itself encrypted with a key derived from
// the repository password by scrypt. Encryption happens in the restic process on the server,
// before anything is sent.
import type { Association } from "../../stacks/config/schema.ts";
import { longestRetentionDays, type BackupDestination, type BackupSettings } from "../../stacks/backups/settings.ts";
import { readFileSync } from "node:fs";
import { drillSchema, type DrillRecord } from "../../stacks/backups/layout.ts";
import type { Localized } from "../rgpd/model.ts";
import type { Recipient } from "./location.ts";
import type { SecurityMeasure } from "./security.ts";
import { countryName, formatDate, inCountry } from "./text.ts";

const DAY_MS = 86_400_000;

/** The cipher as restic's design document states it, quoted in the register. */
export const RESTIC_ENCRYPTION: Localized = {
  fr: "chiffrées sur le serveur par restic avant d'en sortir (AES-256 en mode compteur, authentifié par Poly1305-AES ; clé protégée par le mot de passe du dépôt, dérivé par scrypt ; document de conception de restic, doc/design.rst)",
  en: "encrypted on the server by restic before they leave it (AES-256 in counter mode, authenticated with Poly1305-AES; key protected by the repository password, derived with scrypt; restic's design document, doc/design.rst)",
};

/** Where the copies go, in words. */
export function destinationText(destination: BackupDestination): Localized {
  switch (destination.type) {
    case "sftp":
      return {
        fr: `serveur SFTP ${destination.host}, dossier ${destination.path}, ${inCountry(destination.country, "fr")}`,
        en: `SFTP server ${destination.host}, folder ${destination.path}, ${inCountry(destination.country, "en")}`,
      };
    case "s3":
      return {
        fr: `stockage objet compatible S3 ${destination.endpoint}, compartiment ${destination.bucket}/${destination.prefix}, ${inCountry(destination.country, "fr")}`,
        en: `S3-compatible object storage ${destination.endpoint}, bucket ${destination.bucket}/${destination.prefix}, ${inCountry(destination.country, "en")}`,
      };
    case "disk":
      return { fr: `second disque du serveur, monté sur ${destination.path}`, en: `the server's second disk, mounted at ${destination.path}` };
  }
}

/** The retention in words: how many daily, weekly and monthly copies, and the longest. */
export function retentionText(settings: BackupSettings): Localized {
  const { daily, weekly, monthly } = settings.retention;
  const longest = longestRetentionDays(settings.retention);
  return {
    fr: `${daily} sauvegardes quotidiennes, ${weekly} hebdomadaires et ${monthly} mensuelles ; la plus ancienne a au plus ${longest} jours`,
    en: `${daily} daily, ${weekly} weekly and ${monthly} monthly backups; the oldest is at most ${longest} days old`,
  };
}

/**
 * The outside holder of the copies, a processor (GDPR art. 28) in the country the file names;
 * a second disk of the server is no recipient.
 */
export function backupRecipient(config: Association): Recipient | undefined {
  const backups = config.backups;
  if (!backups || backups.destination.type === "disk") return undefined;
  const destination = backups.destination;
  const name = destination.type === "sftp" ? destination.host : destination.endpoint;
  return {
    name: { fr: name, en: name },
    kind: "processor",
    role: {
      fr: `stockage des sauvegardes chiffrées (${destination.type === "sftp" ? "serveur SFTP" : "stockage objet compatible S3"})`,
      en: `stores the encrypted backups (${destination.type === "sftp" ? "SFTP server" : "S3-compatible object storage"})`,
    },
    country: { fr: countryName(destination.country, "fr"), en: countryName(destination.country, "en") },
    data: {
      fr: `une copie de toutes les données de ce registre, ${RESTIC_ENCRYPTION.fr} : le prestataire ne détient que des fichiers chiffrés, illisibles sans ce mot de passe`,
      en: `a copy of all the data in this record, ${RESTIC_ENCRYPTION.en}: the provider holds encrypted files only, unreadable without that password`,
    },
    when: { fr: `chaque jour à ${backups.time} UTC`, en: `every day at ${backups.time} UTC` },
    outsideEu: false,
    holdsBackups: true,
  };
}

/** What the retention schedule and the register say of the backups' own retention. */
export function backupRetentionStatement(config: Association): Localized {
  const backups = config.backups;
  if (!backups)
    return {
      fr: "Aucune sauvegarde n'est faite par Bastide (pas de section backups: dans le fichier de l'association) : une donnée effacée disparaît aussitôt, mais une panne de disque peut tout faire perdre.",
      en: "Bastide makes no backup (no backups: section in the association file): erased data are gone at once, but a disk failure can lose everything.",
    };
  const retention = retentionText(backups);
  const longest = longestRetentionDays(backups.retention);
  return {
    fr: `Sauvegardes (backups.retention) : ${retention.fr}. Une donnée effacée des services reste dans les sauvegardes faites avant son effacement, chiffrées et inaccessibles aux membres, et en disparaît quand la dernière d'entre elles expire, au plus ${longest} jours après l'effacement (restic forget --prune).`,
    en: `Backups (backups.retention): ${retention.en}. Data erased from the services stay in the backups made before the erasure, encrypted and out of the members' reach, and disappear from them when the last of those expires, at most ${longest} days after the erasure (restic forget --prune).`,
  };
}

/** The day by which no backup holds what was erased at `erasedAt`; undefined without backups. */
export function lastBackupExpiry(config: Association, erasedAt: Date): Date | undefined {
  if (!config.backups) return undefined;
  return new Date(erasedAt.getTime() + longestRetentionDays(config.backups.retention) * DAY_MS);
}

/** The erase record's note on backups: the member stays in the earlier backups until that date. */
export function erasureBackupNote(config: Association, erasedAt: Date): Localized {
  const until = lastBackupExpiry(config, erasedAt);
  if (!until)
    return {
      fr: "Sauvegardes : Bastide n'en fait aucune (pas de section backups: dans la configuration) ; si l'association en fait par ailleurs, le membre doit aussi y être effacé ou y expirer.",
      en: "Backups: Bastide makes none (no backups: section in the config); if the association keeps some by other means, the member must be erased there too or expire from them.",
    };
  return {
    fr: `Sauvegardes : les données effacées restent, chiffrées, dans les sauvegardes faites avant cet effacement ; elles n'en sont pas retirées une à une, mais disparaissent quand la dernière de ces sauvegardes expire, au plus tard le ${formatDate(until, "fr")}. Une restauration avant cette date ramènerait le membre : il faudrait alors refaire cet effacement.`,
    en: `Backups: the erased data stay, encrypted, in the backups made before this erasure; they are not removed one by one, but disappear when the last of those backups expires, by ${formatDate(until, "en")} at the latest. A restore before that date would bring the member back: this erasure would then have to be run again.`,
  };
}

/** The measure of GDPR art. 32 on backups, quoting the last drill when its record is given. */
export function backupMeasure(config: Association, drill?: DrillRecord): SecurityMeasure {
  const backups = config.backups;
  const title = { fr: "Sauvegardes", en: "Backups" };
  if (!backups)
    return {
      id: "backups",
      title,
      status: "not-provided",
      detail: {
        fr: "Bastide ne fait aucune sauvegarde : le fichier de l'association n'a pas de section backups:. L'association doit en ajouter une (serveur SFTP, stockage objet S3 dans l'Union européenne ou second disque) ou organiser une copie chiffrée hors du serveur et l'ajouter à ce registre avec sa durée de conservation : sans elle, une panne de disque ou une erreur peut faire perdre les données.",
        en: "Bastide makes no backup: the association file has no backups: section. The association must add one (an SFTP server, S3 object storage in the European Union or a second disk) or set up an encrypted copy off the server and add it to this record with its retention: without one, a disk failure or a mistake can lose the data.",
      },
    };
  const where = destinationText(backups.destination);
  const retention = retentionText(backups);
  const drillText = drillStatement(drill);
  const offServer = backups.destination.type !== "disk";
  return {
    id: "backups",
    title,
    // A copy on the same server survives a disk, not the loss of the server; a drill proves the restore.
    status: offServer && drill?.outcome === "ok" ? "in-place" : "partial",
    detail: {
      fr: `Sauvegarde quotidienne à ${backups.time} UTC par restic, des bases de données (copies cohérentes par leurs propres outils) et des fichiers de chaque service, ${RESTIC_ENCRYPTION.fr}, vers : ${where.fr}. Conservation : ${retention.fr}. ${drillText.fr}${offServer ? "" : " La copie reste sur le même serveur : elle protège d'une panne de disque, pas de la perte du serveur."}`,
      en: `Daily backup at ${backups.time} UTC with restic, of the databases (consistent copies by their own tools) and of each service's files, ${RESTIC_ENCRYPTION.en}, to: ${where.en}. Kept: ${retention.en}. ${drillText.en}${offServer ? "" : " The copy stays on the same server: it protects against a disk failure, not against losing the server."}`,
    },
    technical: `restic; backups.destination.type: ${backups.destination.type}; backups.retention: daily ${backups.retention.daily}, weekly ${backups.retention.weekly}, monthly ${backups.retention.monthly}`,
  };
}

/** The last drill as the record says it, never more: no record, no claim. */
export function drillStatement(drill: DrillRecord | undefined): Localized {
  if (!drill)
    return {
      fr: "Aucun exercice de restauration enregistré pour l'instant (npm run restore-drill) : la restauration n'est pas encore prouvée.",
      en: "No restore drill recorded yet (npm run restore-drill): the restore is not proven yet.",
    };
  const at = new Date(drill.at);
  if (drill.outcome === "ok")
    return {
      fr: `Dernier exercice de restauration réussi le ${formatDate(at, "fr")} (sauvegarde du ${formatDate(new Date(drill.snapshotTime), "fr")} restaurée et comparée).`,
      en: `Last successful restore drill on ${formatDate(at, "en")} (the backup of ${formatDate(new Date(drill.snapshotTime), "en")} restored and compared).`,
    };
  return {
    fr: `Le dernier exercice de restauration, le ${formatDate(at, "fr")}, a échoué : la restauration n'est pas prouvée.`,
    en: `The last restore drill, on ${formatDate(at, "en")}, failed: the restore is not proven.`,
  };
}

/** A drill record the admin gives (drill.json), checked against the job's own schema; refused with the field that is wrong. */
export function readDrillRecord(file: string): DrillRecord {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new Error(`${file}: not a restore drill record (${(error as Error).message}); give the drill.json that npm run audit saved`);
  }
  const parsed = drillSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`${file}: not a restore drill record: ${issue.path.join(".") || "(top)"}: ${issue.message}; give the drill.json that npm run audit saved`);
  }
  return parsed.data;
}
