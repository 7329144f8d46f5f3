// The identity provider's entry in the register of processing: one account per member,
// with its password hash and second factors.
//
// A minimal entry, so that this branch compiles (SERVICE_REGISTERS needs one per service):
// the register's full entry (credentials, login events, sessions, their periods) is the DPO
// documents' work (branch iddpo, stacks/services/identity/register.ts), which replaces this
// file when the branches merge.
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type ProcessingActivity } from "../../../policies/rgpd/model.ts";
import { accountRetention } from "../../../policies/rgpd/settings.ts";
import { IDENTITY_REALM } from "./blueprint.ts";

export const activity: ProcessingActivity = {
  service: "identity",
  name: { fr: "Connexion unique (Keycloak)", en: "Single sign-on (Keycloak)" },
  purpose: {
    fr: "Donner à chaque membre un seul compte, protégé par un second facteur, pour se connecter à tous les services.",
    en: "Give each member one account, protected by a second factor, to log in to every service.",
  },
};

export function register(config: Association): DataCategory[] {
  return [
    {
      id: "identity.accounts",
      service: "identity",
      name: { fr: "Comptes de connexion", en: "Login accounts" },
      data: {
        fr: "identifiant, nom, adresse e-mail, équipes, langue et rôle ; empreinte du mot de passe (jamais le mot de passe) ; secret TOTP ou clé publique WebAuthn du second facteur",
        en: "id, name, e-mail address, teams, language and role; password hash (never the password); the second factor's TOTP secret or WebAuthn public key",
      },
      purpose: {
        fr: `Authentifier les membres pour tous les services (royaume Keycloak « ${IDENTITY_REALM} »).`,
        en: `Authenticate members for every service (Keycloak realm "${IDENTITY_REALM}").`,
      },
      legalBasis: {
        article: "b",
        justification: {
          fr: "adhésion ou engagement dans l'association : le compte ouvre les outils fournis aux membres",
          en: "membership or engagement in the association: the account opens the tools provided to members",
        },
      },
      dataSubjects: ["members"],
      recipients: [
        { fr: "les services de l'association, qui reçoivent à la connexion l'identifiant, le nom, l'e-mail et les équipes", en: "the association's services, which receive the id, name, e-mail and teams at login" },
        RECIPIENTS.admins,
      ],
      retention: accountRetention(config, {
        fr: "Au départ d'un membre, son compte est désactivé aussitôt, puis effacé après le délai de grâce.",
        en: "When a member leaves, the account is disabled at once, then erased after the grace period.",
      }),
      enforcedBy: {
        how: {
          fr: "L'étape de provisionnement de Bastide désactive puis supprime le compte par l'API d'administration de Keycloak.",
          en: "Bastide's provisioning step disables, then deletes, the account through Keycloak's admin API.",
        },
        mechanism: `Keycloak admin API PUT /admin/realms/${IDENTITY_REALM}/users/<id> (enabled: false), then DELETE after departures.graceDays`,
      },
      // The live audit does not read Keycloak yet (branch iddpo adds it).
      auditable: false,
    },
  ];
}
