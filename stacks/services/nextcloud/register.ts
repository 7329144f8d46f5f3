// Nextcloud's entry in the register of processing. Periods come from the config and
// are quoted as Nextcloud is told them: the config.php values and occ commands the
// blueprint renders.
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type ProcessingActivity, MAY_REVEAL_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { accountRetention, configSetting, daysRetention, fixedRetention } from "../../../policies/rgpd/settings.ts";
import { hostnames } from "../catalog.ts";
import { nextcloudOccSettings, nextcloudSystemConfig } from "./blueprint.ts";

export const activity: ProcessingActivity = {
  service: "nextcloud",
  name: { fr: "Fichiers et agendas partagés (Nextcloud)", en: "Shared files and calendars (Nextcloud)" },
  purpose: {
    fr: "Stocker et partager les documents de l'association et tenir les agendas des équipes.",
    en: "Store and share the association's documents and keep the teams' calendars.",
  },
  sensitiveData: {
    possible: true,
    statement: MAY_REVEAL_SENSITIVE_DATA,
    measures: {
      fr: "Fichiers visibles du seul propriétaire et de ceux avec qui il les partage ; liens publics protégés par un mot de passe et une date d'expiration ; corbeille et anciennes versions effacées au terme de leur durée ; second facteur pour les administrateurs.",
      en: "Files visible only to their owner and those they share them with; public links protected by a password and an expiry date; trash and old versions erased when their period ends; second factor for admins.",
    },
  },
};

const MIB = 1024 * 1024;
/** Nextcloud keeps the current log and one rotated copy. */
const NEXTCLOUD_LOG_FILES = 2;

/** The occ command that sets `key`, as the provisioning step runs it. */
function occCommand(config: Association, key: string): string {
  const setting = nextcloudOccSettings(config).find((s) => s.command.some((arg) => arg === key));
  if (!setting) throw new Error(`nextcloud: no occ setting for ${key}`);
  return setting.command.slice(1).join(" ");
}

export function register(config: Association): DataCategory[] {
  const s = config.services.nextcloud;
  const system = nextcloudSystemConfig(config, hostnames(config).cloud);
  const membership = { fr: "adhésion ou engagement dans l'association : espace de travail fourni aux membres", en: "membership or engagement in the association: the workspace provided to members" };
  const owner = { fr: "le membre et les personnes avec qui il partage", en: "the member and those they share with" };
  const backgroundJobs = "background jobs every 5 minutes (cron container)";
  const configPhp = (key: string) => `config.php ${key} = ${JSON.stringify(system[key])} (bastide.config.php)`;
  const byAccount = {
    how: {
      fr: "L'étape de provisionnement désactive le compte au départ du membre, puis le supprime avec ses données à l'issue du délai de grâce.",
      en: "The provisioning step disables the account when the member leaves, then deletes it with its data once the grace period is over.",
    },
    mechanism: "Nextcloud OCS provisioning API: PUT /ocs/v1.php/cloud/users/<id>/disable, then DELETE /ocs/v1.php/cloud/users/<id> after departures.graceDays",
  };
  const auto = {
    fr: "Réglage « auto » : Nextcloud peut supprimer plus tôt pour libérer de l'espace, jamais plus tard.",
    en: "\"auto\" setting: Nextcloud may delete sooner to free space, never later.",
  };

  const links = s.shareLinks;
  const linkNote = links.requirePassword
    ? undefined
    : {
        fr: `Les liens peuvent être créés sans mot de passe : ${links.relaxedBecause ?? ""}`,
        en: `Links may be created without a password: ${links.relaxedBecause ?? ""}`,
      };

  return [
    {
      id: "nextcloud.accounts",
      service: "nextcloud",
      name: { fr: "Comptes Nextcloud", en: "Nextcloud accounts" },
      data: {
        fr: "identifiant, nom, adresse e-mail, langue, groupes (équipes), quota, jetons de session et d'application, réglages de double authentification",
        en: "user id, name, e-mail address, language, groups (teams), quota, session and app tokens, two-factor settings",
      },
      purpose: { fr: "Donner à chaque membre un compte, créé et fermé d'après la liste des membres.", en: "Give each member an account, created and closed from the member list." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [
        { fr: "les autres membres (carnet d'adresses du serveur et suggestions de partage : nom et e-mail)", en: "the other members (the server's address book and sharing suggestions: name and e-mail)" },
        RECIPIENTS.admins,
      ],
      retention: accountRetention(config),
      enforcedBy: byAccount,
      auditable: true,
    },
    {
      id: "nextcloud.files",
      service: "nextcloud",
      name: { fr: "Fichiers", en: "Files" },
      data: { fr: "documents déposés par les membres, avec leurs métadonnées (nom, taille, dates, étiquettes, commentaires)", en: "documents uploaded by members, with their metadata (name, size, dates, tags, comments)" },
      purpose: { fr: "Stockage et travail en commun sur les documents.", en: "Storing and working together on documents." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [owner, RECIPIENTS.admins],
      retention: accountRetention(config, {
        fr: "Les fichiers partagés dans un dossier d'équipe restent tant que leur propriétaire a un compte ; un membre peut les supprimer à tout moment (ils passent alors par la corbeille).",
        en: "Files shared in a team folder stay while their owner has an account; a member may delete them at any time (they then go through the trash).",
      }),
      enforcedBy: byAccount,
      auditable: true,
    },
    {
      id: "nextcloud.temporary-files",
      service: "nextcloud",
      name: { fr: "Fichiers étiquetés « temporaire »", en: "Files tagged \"temporaire\"" },
      data: { fr: "documents auxquels un membre a donné l'étiquette « temporaire »", en: "documents a member tagged \"temporaire\" (temporary)" },
      purpose: { fr: "Effacer sans y penser les documents de travail passagers.", en: "Clear passing working documents without having to think of it." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [owner, RECIPIENTS.admins],
      retention: daysRetention(configSetting(config, "services.nextcloud.temporaryTagDays"), {
        fr: "après leur dernière modification",
        en: "after their last change",
      }),
      enforcedBy: {
        how: {
          fr: "Règle de l'application de conservation des fichiers de Nextcloud sur l'étiquette « temporaire », posée par le provisionnement.",
          en: "A retention rule of Nextcloud's Retention app on the \"temporaire\" tag, set by provisioning.",
        },
        mechanism: "Nextcloud files_retention app: rule on the collaborative tag \"temporaire\" (services.nextcloud.temporaryTagDays)",
      },
      auditable: true,
    },
    {
      id: "nextcloud.versions",
      service: "nextcloud",
      name: { fr: "Anciennes versions des fichiers", en: "Old file versions" },
      data: { fr: "copies antérieures des fichiers modifiés, avec l'auteur de chaque version", en: "earlier copies of changed files, with the author of each version" },
      purpose: { fr: "Revenir sur une modification malheureuse.", en: "Undo an unfortunate change." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [owner, RECIPIENTS.admins],
      retention: daysRetention(configSetting(config, "services.nextcloud.versionsDays"), { fr: "après leur remplacement", en: "after they were replaced" }, auto),
      enforcedBy: {
        how: { fr: "Nextcloud expire les versions par ses tâches de fond.", en: "Nextcloud expires versions in its background jobs." },
        mechanism: `${configPhp("versions_retention_obligation")}; ${backgroundJobs}`,
      },
      auditable: true,
    },
    {
      id: "nextcloud.trash",
      service: "nextcloud",
      name: { fr: "Corbeille", en: "Trash" },
      data: { fr: "fichiers et dossiers supprimés par les membres", en: "files and folders members deleted" },
      purpose: { fr: "Récupérer un fichier supprimé par erreur.", en: "Recover a file deleted by mistake." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [{ fr: "le membre qui a supprimé le fichier", en: "the member who deleted the file" }, RECIPIENTS.admins],
      retention: daysRetention(configSetting(config, "services.nextcloud.trashbinDays"), { fr: "après la suppression", en: "after deletion" }, auto),
      enforcedBy: {
        how: { fr: "Nextcloud vide la corbeille par ses tâches de fond.", en: "Nextcloud empties the trash in its background jobs." },
        mechanism: `${configPhp("trashbin_retention_obligation")}; ${backgroundJobs}`,
      },
      auditable: true,
    },
    {
      id: "nextcloud.calendars",
      service: "nextcloud",
      name: { fr: "Événements des agendas", en: "Calendar events" },
      data: {
        fr: "titre, date, lieu, description et participants des événements des agendas personnels, des agendas d'équipe et de l'agenda de l'association",
        en: "title, date, place, description and attendees of events in personal calendars, team calendars and the association's calendar",
      },
      purpose: { fr: "Organiser les réunions et les activités des équipes.", en: "Organise the teams' meetings and activities." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [{ fr: "les membres des équipes qui partagent l'agenda", en: "the members of the teams the calendar is shared with" }, RECIPIENTS.admins],
      retention: accountRetention(config, {
        fr: "Les agendas personnels suivent le compte ; les agendas d'équipe et de l'association restent tant que l'équipe existe. Un événement supprimé passe 30 jours dans la corbeille de l'agenda (réglage par défaut de Nextcloud, non modifié par Bastide).",
        en: "Personal calendars follow the account; team and association calendars stay while the team exists. A deleted event spends 30 days in the calendar's trash (Nextcloud's default, left unchanged by Bastide).",
      }),
      enforcedBy: byAccount,
      auditable: true,
    },
    {
      id: "nextcloud.activity",
      service: "nextcloud",
      name: { fr: "Flux d'activité", en: "Activity records" },
      data: { fr: "qui a créé, modifié, partagé ou supprimé quel fichier ou événement, et quand", en: "who created, changed, shared or deleted which file or event, and when" },
      purpose: { fr: "Informer les membres des changements sur ce qu'ils partagent.", en: "Tell members about changes to what they share." },
      legalBasis: {
        article: "f",
        justification: { fr: "intérêt légitime à suivre le travail en commun, pour une durée limitée", en: "legitimate interest in following shared work, for a limited time" },
      },
      dataSubjects: ["members"],
      recipients: [{ fr: "les membres concernés par le fichier ou l'événement", en: "the members concerned by the file or event" }, RECIPIENTS.admins],
      retention: daysRetention(configSetting(config, "services.nextcloud.activityExpireDays"), { fr: "après l'action", en: "after the action" }),
      enforcedBy: {
        how: { fr: "L'application Activity efface les enregistrements expirés par une tâche de fond.", en: "The Activity app deletes expired records in a background job." },
        mechanism: `${configPhp("activity_expire_days")}; ${backgroundJobs}`,
      },
      auditable: true,
    },
    {
      id: "nextcloud.share-links",
      service: "nextcloud",
      name: { fr: "Liens de partage publics", en: "Public share links" },
      data: {
        fr: `lien (jeton), fichier ou dossier partagé, membre qui partage, date d'expiration${links.requirePassword ? ", mot de passe (haché)" : ""} ; rien n'identifie les personnes qui ouvrent le lien`,
        en: `link (token), shared file or folder, sharing member, expiry date${links.requirePassword ? ", password (hashed)" : ""}; nothing identifies the people who open the link`,
      },
      purpose: { fr: "Partager un document avec une personne sans compte.", en: "Share a document with someone without an account." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [
        links.requirePassword
          ? { fr: "toute personne qui a le lien et son mot de passe", en: "anyone who has the link and its password" }
          : { fr: "toute personne qui a le lien", en: "anyone who has the link" },
      ],
      retention: daysRetention(
        configSetting(config, "services.nextcloud.shareLinks.expireAfterDays"),
        { fr: "au plus après la création du lien", en: "at most after the link is created" },
        linkNote,
      ),
      enforcedBy: {
        how: {
          fr: "Nextcloud impose une date d'expiration à chaque lien ; les liens expirés cessent de fonctionner et sont supprimés par une tâche de fond.",
          en: "Nextcloud enforces an expiry date on every link; expired links stop working and are deleted by a background job.",
        },
        mechanism: [
          occCommand(config, "shareapi_enforce_expire_date"),
          occCommand(config, "shareapi_expire_after_n_days"),
          occCommand(config, "shareapi_enforce_links_password"),
        ].join("; "),
      },
      auditable: true,
    },
    {
      id: "nextcloud.log",
      service: "nextcloud",
      name: { fr: "Journal de Nextcloud", en: "Nextcloud's log" },
      data: {
        fr: "avertissements et erreurs, avec l'identifiant du compte, l'adresse IP, la requête et le navigateur ; échecs de connexion",
        en: "warnings and errors, with the account id, IP address, request and browser; failed logins",
      },
      purpose: { fr: "Sécurité et dépannage.", en: "Security and troubleshooting." },
      legalBasis: {
        article: "f",
        justification: { fr: "intérêt légitime à assurer la sécurité des services (considérant 49 du RGPD)", en: "legitimate interest in the security of the services (GDPR recital 49)" },
      },
      dataSubjects: ["members", "visitors"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention(
        { kind: "rotation", maxFileMb: Number(system.log_rotate_size) / MIB, files: NEXTCLOUD_LOG_FILES },
        "log_rotate_size (stacks/services/nextcloud/blueprint.ts nextcloudSystemConfig)",
        {
          fr: "Limite de taille, pas de durée : sur un serveur calme, des lignes peuvent rester longtemps.",
          en: "A size limit, not a time limit: on a quiet server, lines may stay a long time.",
        },
      ),
      enforcedBy: {
        how: { fr: "Nextcloud renouvelle son journal à cette taille et ne garde qu'une copie.", en: "Nextcloud rolls its log at this size and keeps a single copy." },
        mechanism: `${configPhp("log_rotate_size")}, ${configPhp("loglevel")}`,
      },
      auditable: true,
    },
  ];
}
