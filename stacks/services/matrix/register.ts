// Matrix's entry in the register of processing: messages, media, accounts, connections
// and push notifications. Periods come from the config and from the homeserver settings
// the blueprint renders, so the register says what Synapse is told.
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type Localized, type ProcessingActivity, MAY_REVEAL_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { accountRetention, configSetting, daysRetention, durationDays, fixedRetention } from "../../../policies/rgpd/settings.ts";
import { homeserverSettings } from "./blueprint.ts";

export const activity: ProcessingActivity = {
  service: "matrix",
  name: { fr: "Messagerie instantanée (Matrix / Element)", en: "Instant messaging (Matrix / Element)" },
  purpose: {
    fr: "Permettre aux membres d'échanger par écrit, en groupes d'équipe et en messages directs.",
    en: "Let members talk in writing, in team rooms and direct messages.",
  },
  sensitiveData: {
    possible: true,
    statement: MAY_REVEAL_SENSITIVE_DATA,
    measures: {
      fr: "Salons sur invitation et chiffrés de bout en bout par défaut : le serveur ne peut pas lire leurs messages ; messages et fichiers effacés au terme de leur durée de conservation ; inscription fermée, sans invités.",
      en: "Invite-only rooms, end-to-end encrypted by default: the server cannot read their messages; messages and files erased when their retention ends; registration closed, no guests.",
    },
  },
};

const HOMESERVER = "homeserver.yaml (stacks/services/matrix/blueprint.ts homeserverSettings)";

export function register(config: Association): DataCategory[] {
  const settings = homeserverSettings(config);
  const { federation } = config.services.matrix;
  const messages = configSetting(config, "services.matrix.retention.messagesDays");
  const media = configSetting(config, "services.matrix.retention.mediaDays");
  const e2ee = settings.encryption_enabled_by_default_for_room_type === "all";

  const roomMembers = { fr: "les membres des salons où le message est envoyé", en: "the members of the rooms the message is sent to" };
  const remote: Localized[] = federation.enabled
    ? [
        {
          fr: `les serveurs Matrix des participants extérieurs, dans les salons fédérés (fédération activée : ${federation.reason ?? ""})`,
          en: `the Matrix servers of outside participants, in federated rooms (federation on: ${federation.reason ?? ""})`,
        },
      ]
    : [];
  const membership = { fr: "adhésion ou engagement dans l'association : messagerie de travail fournie aux membres", en: "membership or engagement in the association: the working chat provided to members" };

  return [
    {
      id: "matrix.messages",
      service: "matrix",
      name: { fr: "Messages", en: "Chat messages" },
      data: {
        fr: e2ee
          ? "texte des messages (chiffré de bout en bout par défaut : le serveur n'en garde que la version chiffrée), expéditeur, date, salon, réactions et accusés de lecture"
          : "texte des messages, expéditeur, date, salon, réactions et accusés de lecture",
        en: e2ee
          ? "message text (end-to-end encrypted by default: the server keeps only the ciphertext), sender, time, room, reactions and read receipts"
          : "message text, sender, time, room, reactions and read receipts",
      },
      purpose: { fr: "Échanges écrits entre membres.", en: "Written exchanges between members." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [roomMembers, ...remote, RECIPIENTS.admins],
      retention: daysRetention(
        messages,
        { fr: "après l'envoi", en: "after sending" },
        {
          fr: "Synapse garde le dernier message de chaque salon et l'état des salons (nom, sujet, liste des membres) tant que le salon existe ; les copies sur les appareils des membres échappent au serveur.",
          en: "Synapse keeps the latest message of each room and the rooms' state (name, topic, member list) while the room exists; copies on members' devices are beyond the server's reach.",
        },
      ),
      enforcedBy: {
        how: {
          fr: "Politique de conservation par défaut de Synapse, purgée toutes les 12 heures, et règle de conservation posée par Bastide dans chaque salon.",
          en: "Synapse's default retention policy, purged every 12 hours, and an m.room.retention rule Bastide sets in each room.",
        },
        mechanism: `Synapse retention.default_policy.max_lifetime: ${settings.retention.default_policy.max_lifetime} (purge_jobs interval ${settings.retention.purge_jobs[0]!.interval}); m.room.retention state event`,
      },
      auditable: true,
    },
    {
      id: "matrix.redacted",
      service: "matrix",
      name: { fr: "Messages supprimés", en: "Deleted messages" },
      data: { fr: "contenu d'origine d'un message que son auteur a supprimé", en: "original content of a message its author deleted" },
      purpose: { fr: "Modération : permettre aux administrateurs de constater un abus peu après sa suppression.", en: "Moderation: let admins see an abuse shortly after it was deleted." },
      legalBasis: {
        article: "f",
        justification: { fr: "intérêt légitime à modérer la messagerie, pour une courte durée", en: "legitimate interest in moderating the chat, for a short time" },
      },
      dataSubjects: ["members"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention(
        { kind: "days", days: durationDays(settings.redaction_retention_period), from: { fr: "après la suppression", en: "after deletion" } },
        `Synapse redaction_retention_period (${HOMESERVER})`,
      ),
      enforcedBy: {
        how: { fr: "Synapse efface le contenu d'origine passé ce délai.", en: "Synapse erases the original content after this period." },
        mechanism: `Synapse redaction_retention_period: ${settings.redaction_retention_period}`,
      },
      auditable: true,
    },
    {
      id: "matrix.media",
      service: "matrix",
      name: { fr: "Fichiers et images envoyés", en: "Files and images sent in chat" },
      data: {
        fr: "fichiers, images, messages vocaux et leurs miniatures, avec le nom de fichier, la taille et le compte qui les a envoyés",
        en: "files, images, voice messages and their thumbnails, with file name, size and the sending account",
      },
      purpose: { fr: "Partage de documents dans la messagerie.", en: "Sharing documents in the chat." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [roomMembers, ...remote, RECIPIENTS.admins],
      retention: daysRetention(
        media,
        { fr: "après la dernière consultation", en: "after it was last opened" },
        {
          fr: "Un fichier encore consulté reste ; les avatars des comptes ne sont pas concernés.",
          en: "A file that is still opened stays; account avatars are not affected.",
        },
      ),
      enforcedBy: {
        how: { fr: "Synapse purge les médias locaux et distants non consultés depuis ce délai.", en: "Synapse purges local and remote media not opened for this period." },
        mechanism: `Synapse media_retention.local_media_lifetime: ${settings.media_retention.local_media_lifetime}, remote_media_lifetime: ${settings.media_retention.remote_media_lifetime}`,
      },
      auditable: true,
    },
    {
      id: "matrix.accounts",
      service: "matrix",
      name: { fr: "Comptes de messagerie", en: "Chat accounts" },
      data: {
        fr: "identifiant Matrix, nom affiché, avatar, appareils connectés, jetons d'accès, clés publiques de chiffrement et sauvegarde chiffrée des clés, paramètres",
        en: "Matrix id, display name, avatar, signed-in devices, access tokens, public encryption keys and encrypted key backup, settings",
      },
      purpose: { fr: "Donner à chaque membre un compte, créé et fermé d'après la liste des membres.", en: "Give each member an account, created and closed from the member list." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [
        { fr: "les autres membres (annuaire des membres du serveur)", en: "the other members (the server's member directory)" },
        ...remote,
        RECIPIENTS.admins,
      ],
      retention: accountRetention(config, {
        fr: "Au départ d'un membre, son compte est désactivé aussitôt, puis effacé (erase) après le délai de grâce ; ses messages suivent leur propre durée de conservation.",
        en: "When a member leaves, the account is deactivated at once, then erased after the grace period; their messages follow their own retention.",
      }),
      enforcedBy: {
        how: {
          fr: "L'étape de provisionnement de Bastide désactive le compte, puis le désactive avec effacement à l'issue du délai de grâce.",
          en: "Bastide's provisioning step deactivates the account, then deactivates it with erasure once the grace period is over.",
        },
        mechanism: "Synapse admin API POST /_synapse/admin/v1/deactivate/<user> (erase: true after departures.graceDays)",
      },
      auditable: true,
    },
    {
      id: "matrix.connections",
      service: "matrix",
      name: { fr: "Historique de connexion", en: "Connection records" },
      data: { fr: "adresse IP, navigateur ou application utilisés et date de dernière connexion de chaque appareil", en: "IP address, browser or app (user agent) and last-seen time of each device" },
      purpose: { fr: "Sécurité des comptes : chacun voit où son compte est connecté.", en: "Account security: each member sees where their account is signed in." },
      legalBasis: {
        article: "f",
        justification: { fr: "intérêt légitime à sécuriser les comptes (considérant 49 du RGPD)", en: "legitimate interest in securing accounts (GDPR recital 49)" },
      },
      dataSubjects: ["members"],
      recipients: [{ fr: "le membre lui-même", en: "the member themself" }, RECIPIENTS.admins],
      retention: fixedRetention(
        { kind: "days", days: durationDays(settings.user_ips_max_age), from: { fr: "après la connexion", en: "after the connection" } },
        `Synapse user_ips_max_age (${HOMESERVER})`,
      ),
      enforcedBy: {
        how: { fr: "Synapse efface les adresses plus anciennes que ce délai.", en: "Synapse deletes addresses older than this period." },
        mechanism: `Synapse user_ips_max_age: ${settings.user_ips_max_age}`,
      },
      auditable: true,
    },
    {
      id: "matrix.push",
      service: "matrix",
      name: { fr: "Notifications des applications mobiles", en: "Mobile app notifications" },
      data: {
        fr: "jeton de notification de l'appareil, application ; à chaque notification, identifiants du salon et du message (selon l'application, l'expéditeur et le texte des salons non chiffrés)",
        en: "the device's push token, app id; with each notification, the room and message identifiers (depending on the app, the sender and text in unencrypted rooms)",
      },
      purpose: { fr: "Prévenir sur son téléphone le membre qui a activé les notifications.", en: "Alert on their phone a member who turned notifications on." },
      legalBasis: {
        article: "a",
        justification: {
          fr: "le membre active lui-même les notifications dans l'application mobile et peut les couper à tout moment",
          en: "the member turns notifications on in the mobile app and can turn them off at any time",
        },
      },
      dataSubjects: ["members"],
      recipients: [
        {
          fr: "la passerelle de notifications de l'application mobile choisie (pour Element : Element, Royaume-Uni), puis Google Firebase Cloud Messaging ou Apple Push Notification service (États-Unis)",
          en: "the push gateway of the chosen mobile app (for Element: Element, United Kingdom), then Google Firebase Cloud Messaging or Apple Push Notification service (United States)",
        },
      ],
      retention: accountRetention(config, {
        fr: "Le jeton est supprimé quand l'appareil se déconnecte ou que le compte est désactivé ; ce que gardent la passerelle et Google ou Apple relève de leurs propres règles.",
        en: "The token is deleted when the device signs out or the account is deactivated; what the gateway and Google or Apple keep follows their own rules.",
      }),
      enforcedBy: {
        how: { fr: "Synapse supprime les abonnements aux notifications d'un appareil déconnecté ou d'un compte désactivé.", en: "Synapse deletes the pushers of a signed-out device or a deactivated account." },
        mechanism: "Synapse pushers, removed on logout and by POST /_synapse/admin/v1/deactivate/<user>",
      },
      auditable: true,
    },
  ];
}
