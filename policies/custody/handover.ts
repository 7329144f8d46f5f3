// The handover page: everything the next admin needs to run the stack after the person who set
// it up has left, in one page for the association: where the Pulumi state is, who holds its
// passphrase and the emergency sheet, how to restore and rehearse a restore, and how the admin
// role is handed over (what the new admin needs, how they get it, how the old admin's access is
// removed). No secret: it says where each secret is and who holds it.
//
// Rotating the passphrase: `pulumi stack change-secrets-provider passphrase` re-encrypts the
// stack's secrets; it needs the old passphrase through PULUMI_CONFIG_PASSPHRASE(_FILE), which
// `npm run pulumi` gives, and reads the new one from the terminal (pulumi/pulumi#7347).
import type { AdminStack } from "../../cli/stack.ts";
import { BACKEND_ENV, BACKEND_EXAMPLE, S3_KEY_VARIABLES } from "../../cli/backend.ts";
import type { Association } from "../../stacks/config/schema.ts";
import { S3_ACCESS_KEY_CONFIG } from "../../stacks/backups/settings.ts";
import { CONFIG_NAMESPACE } from "../../stacks/config/supplied.ts";
import type { Language } from "../rgpd/model.ts";
import { destinationText, retentionText } from "../reports/backups.ts";
import { formatDate, prose } from "../reports/text.ts";
import type { SheetRecord } from "./emergency.ts";
import { stateFacts } from "./emergency.ts";
import { section, type CustodyPage, type Fact } from "./page.ts";

const T = {
  fr: {
    title: "Passation : faire vivre le serveur de l'association",
    generated: (date: string) => `Page faite le ${date}. À refaire après chaque changement d'administrateur, de stockage ou de fiche d'urgence.`,
    localWarning: (dir: string) =>
      `L'état Pulumi n'est que sur l'ordinateur de l'administrateur (${dir}) : si cet ordinateur est perdu, la pile ne peut plus être modifiée. Déplacez-le dans le stockage objet de l'association (voir « Passation » ci-dessous).`,
    state: "Où est la pile",
    stateIntro: "L'état Pulumi décrit tout ce qui est déployé ; ses secrets sont chiffrés par la phrase secrète, gardée dans un fichier à part.",
    passphraseHolder: "Phrase secrète détenue par",
    notSaid: "non indiqué : refaire cette page avec --passphrase-holder NOM",
    sheet: "La fiche d'urgence",
    sheetMade: (date: string, files: string) => `Faite le ${date} (${files}).`,
    sheetHolder: "Gardée par",
    sheetNone: "Aucune fiche d'urgence n'a encore été faite pour cette pile : npm run emergency-sheet -- <fichier> la fait, une fois.",
    backups: "Les sauvegardes",
    backupsNone: "Aucune sauvegarde n'est faite (pas de section backups: dans le fichier) : une panne de disque peut tout faire perdre.",
    where: "Emplacement",
    when: "Chaque jour à",
    kept: "Conservation",
    restore: "Restaurer et s'exercer",
    restoreSteps: [
      "Chaque mois, s'exercer à restaurer : la dernière sauvegarde est restaurée dans des conteneurs jetables, vérifiée, puis supprimée.",
      "Vérifier les réglages et la fraîcheur des sauvegardes (règles backups.recent et backups.drill) :",
      "Si le serveur est perdu : créer un nouveau serveur depuis le même fichier, puis restaurer avant le démarrage des services (détail sur la fiche d'urgence) :",
    ],
    handover: "Passer le rôle d'administrateur",
    needs: "Le nouvel administrateur a besoin de : le fichier de l'association et son historique (dépôt git de l'association) ; l'accès à l'état Pulumi (les clés S3 du stockage de l'état, ou une copie du dossier d'état) ; la phrase secrète ; l'accès au compte de l'hébergeur du serveur ; la fiche d'urgence, ou savoir qui la garde.",
    handoverSteps: [
      "Si l'état est encore sur l'ordinateur de l'administrateur sortant, le déplacer dans le stockage objet de l'association : exporter la pile, se connecter au stockage, l'importer (les secrets restent chiffrés par la même phrase secrète).",
      "Le nouvel administrateur reçoit, de la main à la main ou par un canal chiffré, la phrase secrète et des clés S3 à son nom pour le stockage de l'état, puis règle ces variables :",
      "Le nouvel administrateur change la phrase secrète (Pulumi rechiffre les secrets ; la nouvelle phrase est demandée au terminal), puis l'écrit dans son fichier de phrase secrète :",
      "Révoquer les clés S3 de l'administrateur sortant dans la console du prestataire ; si les sauvegardes vont sur un stockage S3, remplacer aussi leur clé :",
      "Dans le fichier de l'association, changer le rôle de l'administrateur sortant (ou le retirer de members:), ajouter le nouveau avec role: admin, puis déployer : ses comptes dans les services suivent la liste des membres.",
      "Faire une nouvelle fiche d'urgence pour le nouvel administrateur, et détruire l'ancienne :",
    ],
    admins: "Administrateurs actuels (members:, role: admin)",
  },
  en: {
    title: "Handover: keeping the association's server alive",
    generated: (date: string) => `Page made on ${date}. Make it again after every change of admin, storage or emergency sheet.`,
    localWarning: (dir: string) =>
      `The Pulumi state is only on the admin's computer (${dir}): if that computer is lost, the stack can no longer be changed. Move it to the association's object storage (see "Handover" below).`,
    state: "Where the stack is",
    stateIntro: "The Pulumi state describes everything deployed; its secrets are encrypted with the passphrase, kept in a file of its own.",
    passphraseHolder: "Passphrase held by",
    notSaid: "not said: make this page again with --passphrase-holder NAME",
    sheet: "The emergency sheet",
    sheetMade: (date: string, files: string) => `Made on ${date} (${files}).`,
    sheetHolder: "Kept by",
    sheetNone: "No emergency sheet has been made for this stack yet: npm run emergency-sheet -- <file> makes it, once.",
    backups: "The backups",
    backupsNone: "No backup is made (no backups: section in the file): a disk failure can lose everything.",
    where: "Where",
    when: "Every day at",
    kept: "Kept",
    restore: "Restoring and rehearsing",
    restoreSteps: [
      "Every month, rehearse a restore: the latest backup is restored into throwaway containers, checked, then removed.",
      "Check the settings and how fresh the backups are (rules backups.recent and backups.drill):",
      "If the server is lost: create a new server from the same file, then restore before the services start (details on the emergency sheet):",
    ],
    handover: "Handing the admin role over",
    needs: "The new admin needs: the association file and its history (the association's git repository); access to the Pulumi state (S3 keys to the state's storage, or a copy of the state folder); the passphrase; access to the server's hosting account; the emergency sheet, or knowing who keeps it.",
    handoverSteps: [
      "If the state is still on the leaving admin's computer, move it to the association's object storage: export the stack, log in to the storage, import it (the secrets stay encrypted with the same passphrase).",
      "The new admin receives, by hand or over an encrypted channel, the passphrase and S3 keys of their own for the state's storage, then sets these variables:",
      "The new admin changes the passphrase (Pulumi re-encrypts the secrets; the new passphrase is asked on the terminal), then writes it into their passphrase file:",
      "Revoke the leaving admin's S3 keys in the provider's console; if the backups go to S3 storage, replace their key too:",
      "In the association file, change the leaving admin's role (or remove them from members:), add the new one with role: admin, then deploy: their accounts in the services follow the member list.",
      "Make a new emergency sheet for the new admin, and destroy the old one:",
    ],
    admins: "Current admins (members:, role: admin)",
  },
} as const;

export interface HandoverInput {
  config: Association;
  stack: AdminStack;
  sheet: SheetRecord | undefined;
  passphraseHolder?: string;
  file: string;
  language: Language;
  now: Date;
}

export function handoverPage(input: HandoverInput): CustodyPage {
  const { config, stack, sheet, language, file } = input;
  const t = T[language];
  const say = prose(language);
  const backups = config.backups;
  const backupFacts: Fact[] = backups
    ? [
        { label: t.where, value: say(destinationText(backups.destination)), code: false, id: "backups-where" },
        { label: t.when, value: `${backups.time} UTC`, code: false },
        { label: t.kept, value: say(retentionText(backups)), code: false },
      ]
    : [];
  const s3Backups = backups?.destination.type === "s3";
  return {
    language,
    title: t.title,
    organisation: config.organisation.name,
    generatedText: t.generated(formatDate(input.now, language)),
    warning: stack.remote ? undefined : t.localWarning(stack.backendDir),
    sections: [
      section("stack", t.state, {
        paragraphs: [t.stateIntro],
        facts: [...stateFacts(stack, language), { label: t.passphraseHolder, value: input.passphraseHolder ?? t.notSaid, code: false, id: "passphrase-holder" }],
      }),
      section("emergency-sheet", t.sheet, {
        paragraphs: [sheet ? t.sheetMade(formatDate(new Date(sheet.producedAt), language), sheet.files.join(", ")) : t.sheetNone],
        facts: sheet?.holder ? [{ label: t.sheetHolder, value: sheet.holder, code: false, id: "sheet-holder" }] : [],
      }),
      section("backups", t.backups, { paragraphs: backups ? [] : [t.backupsNone], facts: backupFacts }),
      section("restore", t.restore, {
        steps: [
          { text: t.restoreSteps[0], command: `npm run restore-drill -- ${file}` },
          { text: t.restoreSteps[1], command: `npm run audit -- ${file}` },
          { text: t.restoreSteps[2], command: `npm run restore -- ${file}` },
        ],
      }),
      section("handover", t.handover, {
        paragraphs: [t.needs],
        steps: [
          { text: t.handoverSteps[0], command: `npm run pulumi -- stack export --file stack.json\nexport ${BACKEND_ENV}='${BACKEND_EXAMPLE}'\nnpm run pulumi -- stack init ${stack.stack}\nnpm run pulumi -- stack import --file stack.json` },
          { text: t.handoverSteps[1], command: `export ${BACKEND_ENV}='${stack.remote ? stack.backendUrl : BACKEND_EXAMPLE}' ${S3_KEY_VARIABLES.map((v) => `${v}=…`).join(" ")}` },
          { text: t.handoverSteps[2], command: "npm run pulumi -- stack change-secrets-provider passphrase" },
          {
            text: t.handoverSteps[3],
            ...(s3Backups ? { command: `npm run pulumi -- config set --secret ${CONFIG_NAMESPACE}:${S3_ACCESS_KEY_CONFIG.secret}\nnpm run pulumi -- config set --secret ${CONFIG_NAMESPACE}:${S3_ACCESS_KEY_CONFIG.id}` } : {}),
          },
          { text: t.handoverSteps[4], command: `npm run deploy -- ${file}` },
          { text: t.handoverSteps[5], command: `npm run emergency-sheet -- ${file} --again --holder <NAME>` },
        ],
      }),
      section("admins", t.admins, {
        facts: config.members.filter((m) => m.role === "admin").map((m) => ({ label: m.name, value: m.email, code: false })),
      }),
    ],
  };
}
