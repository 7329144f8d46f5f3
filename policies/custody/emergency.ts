// The emergency sheet: what the admin needs, on paper, to get the data back when the server is
// lost: the repository's address and password, how the storage is reached, the restore steps,
// and where the Pulumi state and its passphrase are. The password is in it and nowhere else the
// admin sees: never on the terminal, only in the sheet's file (0600). Made once: a record in the
// stack's folder says when and where, and a second sheet needs --again, so the admin knows a
// copy exists somewhere.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import type { AdminStack } from "../../cli/stack.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { resticCommands } from "../../stacks/backups/restic.ts";
import type { Language } from "../rgpd/model.ts";
import { destinationText, RESTIC_ENCRYPTION, retentionText } from "../reports/backups.ts";
import { formatDate, prose } from "../reports/text.ts";
import type { BackupOutput } from "./output.ts";
import { section, type CustodyPage, type Fact } from "./page.ts";
import { S3_ACCESS_KEY_CONFIG } from "../../stacks/backups/settings.ts";
import { CONFIG_NAMESPACE } from "../../stacks/config/supplied.ts";

/** Where a stack's sheet record lives: in the stack's own folder (~/.bastide), one per stack. */
export const sheetRecordFile = (stack: AdminStack) => join(stack.stateDir, `emergency-sheet.${stack.stack.replace(/[^A-Za-z0-9._-]/g, "_")}.json`);

export const sheetRecordSchema = z.strictObject({
  version: z.literal(1),
  stack: z.string(),
  producedAt: z.iso.datetime({ offset: true }),
  /** Where the sheet was written (the admin prints it, then keeps or destroys the file). */
  files: z.array(z.string()).min(1),
  /** Who keeps the printed sheet, when the admin said. */
  holder: z.string().nullable(),
});
export type SheetRecord = z.infer<typeof sheetRecordSchema>;

export function readSheetRecord(stack: AdminStack): SheetRecord | undefined {
  const file = sheetRecordFile(stack);
  if (!existsSync(file)) return undefined;
  const damaged = (why: string) => new Error(`${file} is damaged (${why}); remove it and make the sheet again with --again`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw damaged((error as Error).message);
  }
  const parsed = sheetRecordSchema.safeParse(data);
  if (!parsed.success) throw damaged(parsed.error.issues[0]!.message);
  return parsed.data;
}

export function writeSheetRecord(stack: AdminStack, record: SheetRecord): string {
  const file = sheetRecordFile(stack);
  writeFileSync(file, `${JSON.stringify(sheetRecordSchema.parse(record), null, 2)}\n`, { mode: 0o600 });
  return file;
}

/** Thrown when a sheet exists and --again was not given: nothing is written. */
export class SheetExists extends Error {
  constructor(record: SheetRecord, language: Language) {
    const when = formatDate(new Date(record.producedAt), language);
    super(
      language === "fr"
        ? `Une fiche d'urgence existe déjà pour la pile « ${record.stack} » : faite le ${when} (${record.files.join(", ")})${record.holder ? `, gardée par ${record.holder}` : ""}. Un exemplaire existe donc quelque part. Pour en faire une autre, relancez avec --again.`
        : `An emergency sheet already exists for the stack "${record.stack}": made on ${when} (${record.files.join(", ")})${record.holder ? `, kept by ${record.holder}` : ""}. A copy therefore exists somewhere. To make another, run again with --again.`,
    );
    this.name = "SheetExists";
  }
}

const T = {
  fr: {
    title: "Fiche d'urgence : récupérer les données",
    generated: (date: string, stack: string) => `Faite le ${date} pour la pile « ${stack} ». À imprimer, puis à garder sous clé hors du local de l'association.`,
    warning:
      "Cette fiche donne accès à toutes les données de l'association : qui la détient peut lire toutes les sauvegardes. Gardez-la sous clé, ne l'envoyez pas par courrier électronique, et supprimez le fichier une fois la fiche imprimée.",
    repository: "Le dépôt des sauvegardes",
    repositoryIntro: "Les sauvegardes sont faites chaque jour par restic, un logiciel libre de sauvegarde.",
    address: "Adresse du dépôt (restic)",
    where: "Emplacement",
    encryption: "Chiffrement",
    kept: "Conservation",
    password: "Le mot de passe du dépôt",
    passwordIntro:
      "Sans ce mot de passe, les sauvegardes sont illisibles : personne, ni l'hébergeur ni Bastide, ne peut le retrouver. Il a été tiré au hasard au déploiement et n'est écrit que sur cette fiche et, chiffré, dans l'état Pulumi.",
    passwordLabel: "Mot de passe du dépôt",
    access: "L'accès au stockage",
    sftpLogin: "Connexion SFTP",
    sftpKey: "Clé publique installée sur le serveur SFTP (authorized_keys)",
    sftpIntro:
      "Le serveur de l'association se connecte au serveur SFTP avec la clé ci-dessous ; la clé privée correspondante est un secret de la pile Pulumi. Depuis une nouvelle machine sans l'état Pulumi, installez une nouvelle clé publique sur le serveur SFTP depuis la console du prestataire, ou connectez-vous avec le mot de passe du compte SFTP.",
    s3Key: "Identifiant de la clé d'accès S3",
    s3Intro: (secret: string) =>
      `La partie secrète de la clé est gardée comme secret Pulumi (${secret}). Si l'état Pulumi est perdu, créez une nouvelle paire de clés dans la console du prestataire et révoquez l'ancienne.`,
    diskIntro: (path: string) =>
      `Les sauvegardes sont sur un second disque du serveur, monté sur ${path}. Si le serveur est perdu avec ses disques, ces sauvegardes le sont aussi : rattachez ce disque au nouveau serveur s'il a survécu.`,
    restore: "Restaurer sur un nouveau serveur",
    restoreSteps: [
      "Créez un nouveau serveur à partir du même fichier de l'association (même domaine) ; faites pointer le DNS vers lui.",
      "Depuis le dossier de Bastide, restaurez la dernière sauvegarde avant que les services ne démarrent (ou une sauvegarde choisie avec --snapshot <id>) :",
      "Vérifiez ensuite que tout est en place :",
      "Sans Bastide, restic seul suffit à lire le dépôt : écrivez le mot de passe dans un fichier (repository-password), puis listez les sauvegardes et restaurez la dernière :",
    ],
    state: "L'état Pulumi et sa phrase secrète",
    stateIntro:
      "L'état Pulumi décrit ce qui est déployé et garde, chiffrés par la phrase secrète, les secrets générés (mots de passe des bases, clés). Avec lui, npm run restore remet chaque service avec ses propres secrets.",
    stateLabel: "État Pulumi",
    stackLabel: "Pile",
    passphraseLabel: "Phrase secrète (fichier)",
    local: "sur l'ordinateur de l'administrateur",
  },
  en: {
    title: "Emergency sheet: getting the data back",
    generated: (date: string, stack: string) => `Made on ${date} for the stack "${stack}". Print it, then keep it locked away outside the association's premises.`,
    warning:
      "This sheet opens all of the association's data: whoever holds it can read every backup. Keep it locked away, never send it by e-mail, and delete the file once the sheet is printed.",
    repository: "The backup repository",
    repositoryIntro: "The backups are made every day by restic, a free backup program.",
    address: "Repository address (restic)",
    where: "Where",
    encryption: "Encryption",
    kept: "Kept",
    password: "The repository password",
    passwordIntro:
      "Without this password the backups cannot be read: nobody, neither the provider nor Bastide, can recover it. It was drawn at random at deployment and is written only on this sheet and, encrypted, in the Pulumi state.",
    passwordLabel: "Repository password",
    access: "Reaching the storage",
    sftpLogin: "SFTP login",
    sftpKey: "Public key installed on the SFTP server (authorized_keys)",
    sftpIntro:
      "The association's server logs in to the SFTP server with the key below; the matching private key is a secret of the Pulumi stack. From a new machine without the Pulumi state, install a new public key on the SFTP server from the provider's console, or log in with the SFTP account's password.",
    s3Key: "S3 access key id",
    s3Intro: (secret: string) =>
      `The key's secret half is kept as a Pulumi secret (${secret}). If the Pulumi state is lost, create a new key pair in the provider's console and revoke the old one.`,
    diskIntro: (path: string) =>
      `The backups are on a second disk of the server, mounted at ${path}. If the server is lost with its disks, these backups are lost too: attach that disk to the new server if it survived.`,
    restore: "Restoring on a new server",
    restoreSteps: [
      "Create a new server from the same association file (same domain); point the DNS to it.",
      "From Bastide's folder, restore the latest backup before the services start (or a chosen one with --snapshot <id>):",
      "Then check that everything is in place:",
      "Without Bastide, restic alone reads the repository: write the password into a file (repository-password), then list the backups and restore the latest:",
    ],
    state: "The Pulumi state and its passphrase",
    stateIntro:
      "The Pulumi state describes what is deployed and keeps, encrypted with the passphrase, the generated secrets (database passwords, keys). With it, npm run restore brings each service back with its own secrets.",
    stateLabel: "Pulumi state",
    stackLabel: "Stack",
    passphraseLabel: "Passphrase (file)",
    local: "on the admin's computer",
  },
} as const;

export interface SheetInput {
  config: Association;
  output: BackupOutput;
  stack: AdminStack;
  file: string;
  language: Language;
  now: Date;
}

/** Where the state is, in words the next admin can act on. */
export function stateFacts(stack: AdminStack, language: Language): Fact[] {
  const t = T[language];
  return [
    { label: t.stateLabel, value: stack.remote ? stack.backendUrl : `${stack.backendDir} (${t.local})`, code: true, id: "state" },
    { label: t.stackLabel, value: stack.stack, code: true },
    { label: t.passphraseLabel, value: stack.passphraseFile, code: true, id: "passphrase-file" },
  ];
}

export function emergencySheet(input: SheetInput): CustodyPage {
  const { config, output, stack, language } = input;
  const backups = config.backups!;
  const t = T[language];
  const say = prose(language);
  const destination = backups.destination;
  const access =
    destination.type === "sftp"
      ? section("access", t.access, {
          paragraphs: [t.sftpIntro],
          facts: [
            { label: t.sftpLogin, value: `${destination.user}@${destination.host} -p ${destination.port}`, code: true },
            { label: t.sftpKey, value: output.sshPublicKey!, code: true, id: "ssh-public-key" },
          ],
        })
      : destination.type === "s3"
        ? section("access", t.access, {
            paragraphs: [t.s3Intro(`${CONFIG_NAMESPACE}:${S3_ACCESS_KEY_CONFIG.secret}`)],
            facts: [{ label: t.s3Key, value: output.s3AccessKeyId!, code: true, id: "s3-access-key-id" }],
          })
        : section("access", t.access, { paragraphs: [t.diskIntro(destination.path)] });
  // restic's own commands, as the job runs them, with files beside the sheet's reader.
  const restic = resticCommands(backups, { passwordFile: "repository-password", sshKey: "ssh-key", knownHosts: "known_hosts" });
  return {
    language,
    title: t.title,
    organisation: config.organisation.name,
    generatedText: t.generated(formatDate(input.now, language), stack.stack),
    warning: t.warning,
    sections: [
      section("repository", t.repository, {
        paragraphs: [t.repositoryIntro],
        facts: [
          { label: t.address, value: output.repository, code: true, id: "repository-address" },
          { label: t.where, value: say(destinationText(destination)), code: false },
          { label: t.encryption, value: say(RESTIC_ENCRYPTION), code: false },
          { label: t.kept, value: say(retentionText(backups)), code: false },
        ],
      }),
      section("password", t.password, {
        paragraphs: [t.passwordIntro],
        facts: [{ label: t.passwordLabel, value: output.repositoryPassword, code: true, id: "repository-password" }],
      }),
      access,
      section("restore", t.restore, {
        steps: [
          { text: t.restoreSteps[0] },
          { text: t.restoreSteps[1], command: `npm run restore -- ${input.file}` },
          { text: t.restoreSteps[2], command: `npm run audit -- ${input.file}` },
          { text: t.restoreSteps[3], command: `${restic.snapshots.argv.join(" ")}\n${restic.restore("latest", "restore").argv.join(" ")}` },
        ],
      }),
      section("pulumi-state", t.state, { paragraphs: [t.stateIntro], facts: stateFacts(stack, language) }),
    ],
  };
}
