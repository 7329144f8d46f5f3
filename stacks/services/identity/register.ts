// The identity provider's entry in the register of processing: the members' single
// accounts, their credentials, their login events and their sessions. The periods are
// the ones the identity provisioner sets in the realm (provisioners/identity), stated
// here once so that the register, the audit and the provisioner say the same thing.
import type { Association } from "../../config/schema.ts";
import { IDENTITY_REALM } from "./blueprint.ts";
import { RECIPIENTS, type DataCategory, type Localized, type ProcessingActivity, NO_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { accountRetention, fixedRetention } from "../../../policies/rgpd/settings.ts";

export const activity: ProcessingActivity = {
  service: "identity",
  name: { fr: "Authentification des membres (Keycloak)", en: "Members' authentication (Keycloak)" },
  purpose: {
    fr: "Donner à chaque membre un seul compte, protégé par un second facteur, qui ouvre le stockage de fichiers et la messagerie de l'association (Nextcloud, Element).",
    en: "Give each member one account, protected by a second factor, that opens the association's file storage and chat (Nextcloud, Element).",
  },
  sensitiveData: { possible: false, statement: NO_SENSITIVE_DATA },
};

/**
 * What the realm keeps, and for how long. The provisioner sets these in the realm `bastide`,
 * the audit reads them back.
 *
 * Login events: 180 days, the lower bound of the CNIL's recommendation on logging
 * (délibération n° 2021-122 du 14 octobre 2021, « recommandation relative aux mesures de
 * journalisation »): access logs kept six months to one year, long enough to investigate an
 * intrusion found late, short enough not to become a record of members' habits.
 *
 * Sessions: Keycloak's own realm defaults at 26.7.3 (ssoSessionIdleTimeout 1800 s,
 * ssoSessionMaxLifespan 36000 s, read back from a new realm of the real server in
 * test/audit/identity-live.test.ts): a forgotten session closes after 30 minutes, and a
 * member logs in again at least once a working day.
 */
export const IDENTITY_RETENTION = {
  loginEventsDays: 180,
  ssoSessionIdleMinutes: 30,
  ssoSessionMaxHours: 10,
} as const;


const CONSTANT = "IDENTITY_RETENTION (stacks/services/identity/register.ts)";

const ROLE_NAMES = {
  admin: { fr: "administrateurs", en: "admins" },
  staff: { fr: "animateurs", en: "staff members" },
  volunteer: { fr: "bénévoles", en: "volunteers" },
} as const satisfies Record<keyof Association["services"]["identity"]["twoFactor"], Localized>;

export interface RoleTwoFactor {
  role: keyof typeof ROLE_NAMES;
  name: Localized;
  required: boolean;
  /** Why this role may log in without a second factor (services.identity.twoFactor.<role>.relaxedBecause). */
  reason?: string;
}

/** Each role's second factor, as the config sets it. */
export function twoFactorRoles(config: Association): RoleTwoFactor[] {
  const { twoFactor } = config.services.identity;
  return (Object.keys(ROLE_NAMES) as (keyof typeof ROLE_NAMES)[]).map((role) => ({
    role,
    name: ROLE_NAMES[role],
    required: twoFactor[role].required,
    ...(twoFactor[role].required ? {} : { reason: twoFactor[role].relaxedBecause ?? "" }),
  }));
}

/** The roles that may log in without a second factor, with the reason the config gives. */
export const relaxedTwoFactor = (config: Association) => twoFactorRoles(config).filter((r) => !r.required);

export function register(config: Association): DataCategory[] {
  const relaxed = relaxedTwoFactor(config);
  const membership = {
    fr: "adhésion ou engagement dans l'association : le compte qui donne accès aux outils fournis aux membres",
    en: "membership or engagement in the association: the account that opens the tools provided to members",
  };
  const security = {
    fr: "intérêt légitime à protéger les comptes et les données des membres (article 32 et considérant 49 du RGPD)",
    en: "legitimate interest in protecting the members' accounts and data (GDPR article 32 and recital 49)",
  };
  const services = {
    fr: "Nextcloud et Matrix, à chaque connexion : identifiant, nom, adresse e-mail et équipes (OpenID Connect)",
    en: "Nextcloud and Matrix, at each login: id, name, e-mail address and teams (OpenID Connect)",
  };
  const secondFactorNote: Localized =
    relaxed.length === 0
      ? { fr: "Second facteur exigé de tous les rôles.", en: "Second factor required of every role." }
      : {
          fr: `Second facteur facultatif pour : ${relaxed.map((r) => `${r.name.fr} (« ${r.reason} »)`).join(" ; ")}.`,
          en: `Second factor optional for: ${relaxed.map((r) => `${r.name.en} ("${r.reason}")`).join("; ")}.`,
        };
  const { loginEventsDays, ssoSessionIdleMinutes, ssoSessionMaxHours } = IDENTITY_RETENTION;

  return [
    {
      id: "identity.accounts",
      service: "identity",
      name: { fr: "Comptes des membres", en: "Members' accounts" },
      data: {
        fr: "identifiant, nom, adresse e-mail, langue, rôle (administrateur, animateur ou bénévole), équipes, date de création, compte actif ou désactivé, actions demandées au membre (choisir son mot de passe, enregistrer son second facteur)",
        en: "id, name, e-mail address, language, role (admin, staff or volunteer), teams, creation date, account enabled or disabled, actions asked of the member (choose a password, set up a second factor)",
      },
      purpose: { fr: "Un seul compte par membre pour tous les services.", en: "One account per member for every service." },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [services, RECIPIENTS.admins],
      retention: accountRetention(config, {
        fr: "Au départ du membre, le compte est désactivé et toutes ses sessions sont fermées ; il est effacé après le délai de grâce.",
        en: "When the member leaves, the account is disabled and all its sessions are ended; it is erased after the grace period.",
      }),
      enforcedBy: {
        how: {
          fr: "Le provisionnement de Bastide crée les comptes depuis la liste des membres, désactive ceux qui en sortent et les efface après le délai de grâce.",
          en: "Bastide's provisioning creates the accounts from the member list, disables those who leave it and erases them after the grace period.",
        },
        mechanism: `Keycloak admin API, realm ${IDENTITY_REALM}: users (enabled=false, logout, then DELETE) (provisioners/identity)`,
      },
      auditable: true,
    },
    {
      id: "identity.credentials",
      service: "identity",
      name: { fr: "Mots de passe et seconds facteurs", en: "Passwords and second factors" },
      data: {
        fr: "empreinte du mot de passe (Argon2, jamais le mot de passe lui-même), empreintes des mots de passe précédents si la politique en interdit la réutilisation, secret de l'application d'authentification (TOTP), clés publiques des clés d'accès (WebAuthn), dates d'enregistrement",
        en: "password hash (Argon2, never the password itself), hashes of previous passwords where the policy forbids their reuse, the authenticator app's secret (TOTP), passkeys' public keys (WebAuthn), dates they were set up",
      },
      purpose: { fr: "Vérifier l'identité du membre à la connexion.", en: "Check the member's identity at login." },
      legalBasis: { article: "f", justification: security },
      dataSubjects: ["members"],
      recipients: [RECIPIENTS.admins],
      retention: accountRetention(config, secondFactorNote),
      enforcedBy: {
        how: {
          fr: "Effacés avec le compte ; le membre choisit lui-même son mot de passe et son second facteur, l'administrateur ne peut que les réinitialiser.",
          en: "Erased with the account; the member chooses their own password and second factor, the admin can only reset them.",
        },
        mechanism: `Keycloak credentials of the user, realm ${IDENTITY_REALM} (DELETE of the user erases them)`,
      },
      auditable: true,
    },
    {
      id: "identity.login-events",
      service: "identity",
      name: { fr: "Journal des connexions", en: "Login events" },
      data: {
        fr: "type d'événement (connexion, échec, déconnexion, changement de mot de passe ou de second facteur), date et heure, adresse IP complète, service concerné, identifiant du compte et de la session, identifiant saisi lors d'un échec, méthode d'authentification ; ni navigateur ni appareil",
        en: "event type (login, failed login, logout, password or second factor change), date and time, full IP address, service concerned, account and session ids, the user name typed for a failed login, authentication method; no browser or device (user agent)",
      },
      purpose: {
        fr: "Sécurité : repérer les tentatives de deviner un mot de passe et l'usage d'un compte volé, et répondre à un membre qui demande qui s'est connecté à son compte.",
        en: "Security: spot password guessing and the use of a stolen account, and answer a member who asks who logged in to their account.",
      },
      legalBasis: { article: "f", justification: security },
      dataSubjects: ["members"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention(
        { kind: "days", days: loginEventsDays, from: { fr: "après l'événement", en: "after the event" } },
        CONSTANT,
        {
          fr: `Six mois, borne basse de la recommandation de la CNIL sur la journalisation (délibération n° 2021-122 du 14 octobre 2021 : de six mois à un an). Les changements faits par les administrateurs dans la console ne sont pas journalisés.`,
          en: `Six months, the lower bound of the CNIL's recommendation on logging (deliberation no. 2021-122 of 14 October 2021: six months to one year). Changes admins make in the console are not logged.`,
        },
      ),
      enforcedBy: {
        how: { fr: "Keycloak supprime chaque jour les événements plus anciens que la durée fixée.", en: "Keycloak deletes events older than the set period." },
        mechanism: `Keycloak realm ${IDENTITY_REALM}: eventsEnabled=true, eventsExpiration=${loginEventsDays * 86_400} s, adminEventsEnabled=false`,
      },
      auditable: true,
    },
    {
      id: "identity.sessions",
      service: "identity",
      name: { fr: "Sessions de connexion", en: "Login sessions" },
      data: {
        fr: "identifiant de session, compte, adresse IP, heure de connexion et de dernière activité, services ouverts avec cette session",
        en: "session id, account, IP address, login and last activity times, services opened with this session",
      },
      purpose: {
        fr: "Se connecter une fois pour tous les services, et fermer toutes les sessions d'un membre qui part.",
        en: "Log in once for every service, and end every session of a member who leaves.",
      },
      legalBasis: { article: "b", justification: membership },
      dataSubjects: ["members"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention({ kind: "lifespan", idleMinutes: ssoSessionIdleMinutes, maxHours: ssoSessionMaxHours }, CONSTANT, {
        fr: "Keycloak garde les sessions dans sa base de données (elles survivent à un redémarrage) et les supprime à leur expiration. Une déconnexion ou le départ du membre ferme aussi ses sessions dans Nextcloud et Matrix.",
        en: "Keycloak keeps sessions in its database (they survive a restart) and deletes them when they expire. A logout or the member's departure also ends their sessions in Nextcloud and Matrix.",
      }),
      enforcedBy: {
        how: {
          fr: "Keycloak ferme la session après le délai d'inactivité ou la durée maximale.",
          en: "Keycloak ends the session after the idle timeout or the maximum lifespan.",
        },
        mechanism: `Keycloak realm ${IDENTITY_REALM}: ssoSessionIdleTimeout=${ssoSessionIdleMinutes * 60} s, ssoSessionMaxLifespan=${ssoSessionMaxHours * 3600} s`,
      },
      auditable: true,
    },
  ];
}
