// Jitsi's entry in the register of processing. Meetings live in memory only: what the
// register states is what the Prosody overlay and the web config the blueprint renders
// make true (no archive, no tombstones, no recording server).
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type ProcessingActivity, MAY_REVEAL_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { fixedRetention } from "../../../policies/rgpd/settings.ts";
import { ARCHIVE_EXPIRY, LOBBY_MODULE, PROSODY_DATA_PATH, PROSODY_OVERLAY_PATH, XMPP } from "./blueprint.ts";
import { MEETING_LOGIN } from "./login.ts";

export const activity: ProcessingActivity = {
  service: "jitsi",
  name: { fr: "Visioconférence (Jitsi Meet)", en: "Video meetings (Jitsi Meet)" },
  purpose: {
    fr: "Tenir les réunions de l'association à distance, avec des invités extérieurs si besoin.",
    en: "Hold the association's meetings remotely, with outside guests when needed.",
  },
  sensitiveData: {
    possible: true,
    statement: MAY_REVEAL_SENSITIVE_DATA,
    measures: {
      fr: "Les réunions ne sont ni enregistrées ni stockées ; seuls les animateurs authentifiés ouvrent une salle, les invités attendent dans la salle d'attente et une salle peut avoir un mot de passe.",
      en: "Meetings are neither recorded nor stored; only authenticated hosts open a room, guests wait in the lobby and a room can have a password.",
    },
  },
};

const OVERLAY = `Prosody ${PROSODY_OVERLAY_PATH}`;

export function register(config: Association): DataCategory[] {
  const { guests, recording } = config.services.jitsi;
  const meetingEnd = { fr: "la fin de la réunion", en: "the end of the meeting" };
  const meetings = {
    article: "f" as const,
    justification: {
      fr: "intérêt légitime à tenir les réunions de l'association, y compris avec des personnes extérieures",
      en: "legitimate interest in holding the association's meetings, including with outside people",
    },
  };
  const participants = { fr: "les autres participants de la réunion", en: "the other participants of the meeting" };
  const recordingNote = recording.enabled
    ? {
        fr: `L'enregistrement dans le navigateur est permis : le fichier est enregistré sur l'ordinateur du participant qui enregistre, hors du serveur, après l'annonce « ${recording.consentText ?? ""} ».`,
        en: `In-browser recording is allowed: the file is saved on the recording participant's computer, outside the server, after the notice "${recording.consentText ?? ""}".`,
      }
    : {
        fr: "L'enregistrement est désactivé ; le son et l'image transitent par le serveur sans y être enregistrés.",
        en: "Recording is off; sound and video pass through the server without being recorded.",
      };

  return [
    {
      id: "jitsi.meetings",
      service: "jitsi",
      name: { fr: "Métadonnées des réunions", en: "Meeting metadata" },
      data: {
        fr: "nom de la salle, noms affichés des participants, présence dans la salle, messages de la discussion de la réunion, flux audio et vidéo relayés",
        en: "room name, participants' display names, presence in the room, messages of the meeting's chat, relayed audio and video streams",
      },
      purpose: { fr: "Faire fonctionner la réunion.", en: "Run the meeting." },
      legalBasis: meetings,
      dataSubjects: guests.allowed ? ["staff", "members", "guests"] : ["staff", "members"],
      recipients: [participants],
      retention: fixedRetention({ kind: "session", until: meetingEnd }, `${OVERLAY}: muc_tombstones = false, muc_log_by_default = false`, recordingNote),
      enforcedBy: {
        how: {
          fr: "Les salles n'existent qu'en mémoire ; aucune archive, aucune trace de salle détruite, aucun serveur d'enregistrement.",
          en: "Rooms exist in memory only; no archive, no trace of destroyed rooms, no recording server.",
        },
        mechanism: `${OVERLAY}: muc_log_by_default = false, muc_log_expires_after = "${ARCHIVE_EXPIRY}", muc_tombstones = false, modules_disabled "offline"; web config recordingService.enabled = false`,
      },
      auditable: true,
    },
    {
      id: "jitsi.lobby",
      service: "jitsi",
      name: { fr: "Salle d'attente", en: "Lobby" },
      data: {
        fr: "nom affiché et demande d'entrée des personnes qui attendent, messages échangés avec les animateurs",
        en: "display name and join request of people waiting, messages exchanged with the hosts",
      },
      purpose: { fr: "Laisser les animateurs admettre les invités.", en: "Let the hosts admit guests." },
      legalBasis: meetings,
      dataSubjects: guests.allowed ? ["guests"] : ["members"],
      recipients: [{ fr: "les animateurs de la réunion", en: "the meeting's hosts" }],
      retention: fixedRetention({ kind: "session", until: meetingEnd }, `${OVERLAY}: muc_tombstones = false`),
      enforcedBy: {
        how: { fr: "La salle d'attente n'existe qu'en mémoire, le temps de la réunion.", en: "The lobby exists in memory only, for the meeting's duration." },
        mechanism: `Prosody muc_lobby_rooms (ENABLE_LOBBY=1), switched on in every room by mod_${LOBBY_MODULE} (XMPP_MUC_MODULES); staff of ${XMPP.domain} skip it (muc_lobby_whitelist); in memory`,
      },
      auditable: true,
    },
    config.services.identity.enabled ? hostTokens : {
      id: "jitsi.accounts",
      service: "jitsi",
      name: { fr: "Comptes des animateurs (XMPP)", en: "Hosts' accounts (XMPP)" },
      data: { fr: "identifiant et empreinte salée du mot de passe des membres administrateurs et animateurs", en: "user name and salted password hash of admin and staff members" },
      purpose: { fr: "Réserver l'ouverture des salles aux membres habilités.", en: "Keep the opening of rooms to authorised members." },
      legalBasis: {
        article: "b",
        justification: { fr: "rôle d'animateur confié au membre dans l'association", en: "the host role the association gives the member" },
      },
      dataSubjects: ["staff"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention(
        { kind: "account", graceDays: 0 },
        "members[].role (admin or staff)",
        {
          fr: "Supprimé dès que le membre quitte la liste ou n'est plus administrateur ni animateur.",
          en: "Removed as soon as the member leaves the list or is no longer admin or staff.",
        },
      ),
      enforcedBy: {
        how: {
          fr: `Les comptes sont dans le dossier de données de Prosody, sur le volume des comptes ; l'étape de provisionnement supprime le compte XMPP.`,
          en: `The accounts are in Prosody's data folder (${PROSODY_DATA_PATH}, "accounts" volume); the provisioning step removes the XMPP account.`,
        },
        mechanism: `prosodyctl shell user delete <member>@${XMPP.domain} (provisioning)`,
      },
      auditable: true,
    },
  ];
}

/** With the identity provider, hosts hold a token it signs instead of an account (login.ts). */
const hostTokens: DataCategory = {
  id: "jitsi.accounts",
  service: "jitsi",
  name: { fr: "Jetons des animateurs", en: "Hosts' tokens" },
  data: {
    fr: "identifiant et prénom du membre administrateur ou animateur, dans un jeton signé par le fournisseur d'identité",
    en: "id and first name of the admin or staff member, in a token signed by the identity provider",
  },
  purpose: { fr: "Réserver l'ouverture des salles aux membres habilités, avec leur connexion unique.", en: "Keep the opening of rooms to authorised members, with their one login." },
  legalBasis: {
    article: "b",
    justification: { fr: "rôle d'animateur confié au membre dans l'association", en: "the host role the association gives the member" },
  },
  dataSubjects: ["staff"],
  recipients: [{ fr: "les participants de la réunion (prénom affiché)", en: "the meeting's participants (first name shown)" }],
  retention: fixedRetention(
    { kind: "session", until: { fr: `l'expiration du jeton, ${MEETING_LOGIN.tokenLifetimeSeconds / 3600} heures après sa délivrance`, en: `the token's expiry, ${MEETING_LOGIN.tokenLifetimeSeconds / 3600} hours after it is issued` } },
    `Keycloak client ${MEETING_LOGIN.clientId}: access.token.lifespan = ${MEETING_LOGIN.tokenLifetimeSeconds}`,
    {
      fr: "Prosody ne garde aucun compte d'animateur ; le jeton reste dans l'historique du navigateur de l'animateur, dans l'adresse de la réunion.",
      en: "Prosody keeps no host account; the token stays in the host's browser history, in the meeting's address.",
    },
  ),
  enforcedBy: {
    how: {
      fr: "Prosody n'accepte que les jetons signés par la clé de réunion du fournisseur d'identité et portant une salle, que seuls les membres administrateurs et animateurs reçoivent.",
      en: "Prosody accepts only tokens signed with the identity provider's meeting key and carrying a room, which only admin and staff members get.",
    },
    mechanism: `Prosody AUTH_TYPE=jwt, JWT_ACCEPTED_ISSUERS = the realm; Keycloak user attribute ${MEETING_LOGIN.roomsAttribute} (room claim) for admin and staff only`,
  },
  auditable: true,
};
