// The messages several commands give about the stack and the Pulumi CLI, in each language.
import type { Localized } from "./command.ts";
import type { MissingCli } from "./pulumi-cli.ts";
import { STATE_DIR_ENV, type AdminStack } from "./stack.ts";

export const NOTHING_CHANGED: Localized = { en: "Nothing was created or changed.", fr: "Rien n'a été créé ni modifié." };

const INSTALL_DOCS = "https://www.pulumi.com/docs/iac/download-install/";

export const stackMessages = {
  noPassphrase: (s: AdminStack): Localized => ({
    en: `No Bastide stack on this machine yet: ${s.passphraseFile} does not exist. Deploy first with npm run deploy -- path/to/association.yaml (or set ${STATE_DIR_ENV} to the folder that holds the stack's state and passphrase).`,
    fr: `Aucune pile Bastide sur cette machine : ${s.passphraseFile} n'existe pas. Déployez d'abord avec npm run deploy -- chemin/vers/association.yaml (ou donnez dans ${STATE_DIR_ENV} le dossier qui contient l'état et la phrase secrète de la pile).`,
  }),
  noStack: (s: AdminStack): Localized => ({
    en: `The stack "${s.stack}" has no state in ${s.backendDir}. Deploy it first with npm run deploy -- path/to/association.yaml, or name the stack you deployed with --stack NAME.`,
    fr: `La pile « ${s.stack} » n'a pas d'état dans ${s.backendDir}. Déployez-la d'abord avec npm run deploy -- chemin/vers/association.yaml, ou nommez la pile déployée avec --stack NOM.`,
  }),
  noCli: (m: MissingCli): Localized => ({
    en: `The Pulumi CLI is not installed: there is no pulumi on the PATH and none in ${m.installRoot}. Run npm run pulumi -- version once to download Pulumi ${m.version} (the script ${m.installScript} fetches ${m.tarballs[0]}), or install it yourself (${INSTALL_DOCS}) and put it on the PATH.`,
    fr: `La commande Pulumi n'est pas installée : aucun pulumi dans le PATH ni dans ${m.installRoot}. Lancez une fois npm run pulumi -- version pour télécharger Pulumi ${m.version} (le script ${m.installScript} récupère ${m.tarballs[0]}), ou installez-la vous-même (${INSTALL_DOCS}) et mettez-la dans le PATH.`,
  }),
  downloading: (m: MissingCli): Localized => ({
    en: `The Pulumi CLI is not on your PATH nor in ${m.installRoot}: downloading Pulumi ${m.version} there, with Pulumi's install script ${m.installScript}, from ${m.tarballs.join(" (or ")}).`,
    fr: `La commande Pulumi n'est ni dans votre PATH ni dans ${m.installRoot} : téléchargement de Pulumi ${m.version} à cet endroit, par le script d'installation de Pulumi ${m.installScript}, depuis ${m.tarballs.join(" (ou ")}).`,
  }),
  downloadFailed: (m: MissingCli, reason: string): Localized => ({
    en: `Pulumi ${m.version} could not be downloaded (${reason}). Either let this machine reach get.pulumi.com and github.com (the install script needs curl and tar) and run again, or install the Pulumi CLI yourself (${INSTALL_DOCS}) and put it on your PATH.`,
    fr: `Pulumi ${m.version} n'a pas pu être téléchargé (${reason}). Laissez cette machine joindre get.pulumi.com et github.com (le script d'installation a besoin de curl et tar) puis relancez, ou installez vous-même la commande Pulumi (${INSTALL_DOCS}) et mettez-la dans votre PATH.`,
  }),
};
