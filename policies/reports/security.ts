// The security measures of GDPR article 32, each read from what the stack deploys:
// the blueprints, the firewall rules, the platform's hardening, the backups. What Bastide does
// not provide (disk encryption, backups when the file asks for none) is said plainly.
import { PROFILES, type Association } from "../../stacks/config/schema.ts";
import { memoryUse } from "../../stacks/config/sizing.ts";
import { ANYWHERE, firewallRules } from "../../stacks/host/firewall.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { isPinned } from "../../stacks/services/images.ts";
import { LOG_ROTATION } from "../../stacks/platform/component.ts";
import { homeserverSettings } from "../../stacks/services/matrix/blueprint.ts";
import { PROVISIONING_TOKEN } from "../../stacks/services/proxy/blueprint.ts";
import { twoFactorRoles } from "../../stacks/services/identity/register.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import type { Localized } from "../rgpd/model.ts";
import { dockerSizeMb } from "../rgpd/register.ts";
import { formatNumber } from "./text.ts";
import type { DrillRecord } from "../../stacks/backups/layout.ts";
import { backupMeasure } from "./backups.ts";

export type MeasureStatus = "in-place" | "partial" | "not-provided";

export interface SecurityMeasure {
  id: string;
  title: Localized;
  status: MeasureStatus;
  detail: Localized;
  /** Paths, headers and settings behind the measure: the annex prints them. */
  technical?: string;
}

const list = (items: string[]) => items.join(", ");

/** `drill`: the last restore drill's record, when the admin has it; without it no drill is claimed. */
export function securityMeasures(config: Association, drill?: DrillRecord): SecurityMeasure[] {
  const services = blueprints(config);
  const containers = services.flatMap((b) => b.containers);
  const { proxy, matrix, nextcloud, jitsi, vpn } = config.services;
  const measures: SecurityMeasure[] = [];
  const add = (m: SecurityMeasure) => measures.push(m);

  const local = config.host.target === "local";
  add({
    id: "tls",
    title: { fr: "Chiffrement des connexions (TLS)", en: "Encrypted connections (TLS)" },
    status: !local && proxy.acmeCa === "production" ? "in-place" : "partial",
    detail: local
      ? {
          fr: "Déploiement de test : Caddy signe les certificats avec sa propre autorité locale. En production, Caddy obtient des certificats Let's Encrypt par ACME.",
          en: "Test deployment: Caddy signs certificates with its own local authority. In production, Caddy gets Let's Encrypt certificates over ACME.",
        }
      : proxy.acmeCa === "production"
        ? {
            fr: "Caddy obtient et renouvelle seul les certificats Let's Encrypt (ACME) ; HTTP ne sert qu'à rediriger vers HTTPS ; en-tête HSTS d'un an.",
            en: "Caddy obtains and renews Let's Encrypt certificates by itself (ACME); HTTP only redirects to HTTPS; one-year HSTS header.",
          }
        : {
            fr: "Certificats de test Let's Encrypt (staging), que les navigateurs refusent : passer services.proxy.acmeCa à production.",
            en: "Let's Encrypt test (staging) certificates, which browsers refuse: set services.proxy.acmeCa to production.",
          },
  });

  const secrets = services.flatMap((b) => b.secrets);
  const lengths = secrets.map((s) => s.length);
  add({
    id: "secrets",
    title: { fr: "Secrets générés", en: "Generated secrets" },
    status: "in-place",
    detail: {
      fr: `${secrets.length} secrets (mots de passe des bases, clés des services) tirés au hasard, de ${Math.min(...lengths)} à ${Math.max(...lengths)} caractères, gardés chiffrés comme secrets Pulumi ; aucun n'est écrit en clair dans la configuration.`,
      en: `${secrets.length} secrets (database passwords, service keys) drawn at random, ${Math.min(...lengths)} to ${Math.max(...lengths)} characters long, kept encrypted as Pulumi secrets; none is written in clear in the configuration.`,
    },
  });

  const pulled = containers.filter((c) => !c.build);
  const built = pulled.length < containers.length;
  const byDigest = pulled.filter((c) => c.image.includes("@sha256:")).length;
  const unpinned = pulled.filter((c) => !isPinned(c.image)).map((c) => c.image);
  add({
    id: "images",
    title: { fr: "Images épinglées", en: "Pinned images" },
    status: unpinned.length === 0 ? "in-place" : "partial",
    detail: {
      fr: `${containers.length} conteneurs ; chaque image téléchargée est fixée à une version exacte (${byDigest} sur ${pulled.length} aussi par empreinte sha256)${built ? ", l'image de Framadate est construite depuis un Dockerfile épinglé" : ""}. Une mise à jour est un changement relu, déployé par l'administrateur.`,
      en: `${containers.length} containers; every downloaded image is fixed to an exact version (${byDigest} of ${pulled.length} also by sha256 digest)${built ? ", Framadate's image is built from a pinned Dockerfile" : ""}. An update is a reviewed change the admin deploys.`,
    },
  });

  const capabilities = containers.flatMap((c) => (c.addCapabilities ?? []).map((cap) => `${cap}`));
  add({
    id: "privileges",
    title: { fr: "Conteneurs sans privilèges supplémentaires", en: "Containers without extra privileges" },
    status: "in-place",
    detail: {
      fr: `Aucun conteneur privilégié ; no-new-privileges pour tous. ${capabilities.length > 0 ? `Seule capacité ajoutée : ${list(capabilities)} (VPN, dans son propre espace réseau).` : "Aucune capacité ajoutée."}`,
      en: `No privileged container; no-new-privileges for all. ${capabilities.length > 0 ? `Only added capability: ${list(capabilities)} (VPN, in its own network namespace).` : "No added capability."}`,
    },
  });

  const memory = memoryUse(config).reduce((sum, c) => sum + c.memoryMb, 0);
  const budget = PROFILES[config.profile].containerBudgetMb;
  add({
    id: "memory",
    title: { fr: "Limites de mémoire", en: "Memory limits" },
    status: "in-place",
    detail: {
      fr: `Chaque conteneur a une limite de mémoire, sans échange disque : ${formatNumber(memory, "fr")} Mio au total, sur ${formatNumber(budget, "fr")} Mio permis par le profil ${config.profile}. Un service emballé ne peut pas faire tomber les autres.`,
      en: `Every container has a memory limit, without swap: ${formatNumber(memory, "en")} MiB in all, of the ${formatNumber(budget, "en")} MiB profile ${config.profile} allows. A runaway service cannot bring the others down.`,
    },
  });

  const adminPaths = services.flatMap((b) => b.routes.filter((r) => (r.vpnOnlyPaths ?? []).length > 0).map((r) => `${r.host} (${list(r.vpnOnlyPaths!)})`));
  add({
    id: "admin-pages",
    title: { fr: "Pages d'administration réservées au VPN", en: "Admin pages reachable through the VPN only" },
    status: "in-place",
    detail: {
      fr: `Le proxy refuse les pages d'administration de chaque service à toute requête qui ne vient pas du VPN ou ne porte pas le jeton de provisionnement, un secret généré dont se sert Bastide au déploiement (liste des chemins en annexe).${vpn.enabled ? "" : " Le VPN est désactivé : ces pages sont donc fermées depuis Internet."}`,
      en: `The proxy refuses every service's admin pages to any request that neither comes from the VPN nor bears the provisioning token, a generated secret Bastide uses when it deploys (the paths are listed in the annex).${vpn.enabled ? "" : " The VPN is off: these pages are therefore closed from the Internet."}`,
    },
    technical: `${PROVISIONING_TOKEN.header}; ${list(adminPaths)}`,
  });

  const everywhere = (sources: string[]) => sources.length === ANYWHERE.length && ANYWHERE.every((a) => sources.includes(a));
  const ports = (from: string) =>
    list(firewallRules(config).map((r) => `${r.port}/${r.protocol}${everywhere(r.sources) ? "" : ` (${from} ${list(r.sources)})`}`));
  const managed = config.host.target === "hetzner" || config.host.target === "scaleway";
  add({
    id: "firewall",
    title: { fr: "Pare-feu : seuls les ports utiles", en: "Firewall: only the needed ports" },
    status: managed ? "in-place" : "partial",
    detail: managed
      ? { fr: `Pare-feu de l'hébergeur, géré par Bastide. Ports ouverts : ${ports("depuis")}.`, en: `The provider's firewall, managed by Bastide. Open ports: ${ports("from")}.` }
      : {
          fr: `Bastide ne gère pas le pare-feu de ce serveur ; les conteneurs ne publient que ces ports : ${ports("depuis")}. L'administrateur doit fermer les autres.`,
          en: `Bastide does not manage this server's firewall; the containers publish these ports only: ${ports("from")}. The admin must close the others.`,
        },
  });

  const access: Localized[] = [
    { fr: "Les comptes ne sont créés que depuis la liste des membres.", en: "Accounts are created from the member list only." },
  ];
  if (matrix.enabled) {
    const hs = homeserverSettings(config);
    access.push({
      fr: `Matrix : inscriptions fermées, pas d'invités, fédération ${matrix.federation.enabled ? "activée" : "désactivée"}.`,
      en: `Matrix: registration closed, no guests, federation ${matrix.federation.enabled ? "on" : "off"}.`,
    });
    add({
      id: "e2ee",
      title: { fr: "Chiffrement de bout en bout de la messagerie", en: "End-to-end encrypted chat" },
      status: hs.encryption_enabled_by_default_for_room_type === "all" ? "in-place" : "partial",
      detail: {
        fr: "Tout nouveau salon est chiffré de bout en bout par défaut : le serveur ne garde que des messages chiffrés. Aperçus de liens, présence et statistiques désactivés.",
        en: "Every new room is end-to-end encrypted by default: the server keeps encrypted messages only. Link previews, presence and statistics are off.",
      },
    });
  }
  if (jitsi.enabled)
    access.push({
      fr: `Jitsi : seuls les membres administrateurs et animateurs ouvrent une salle ; ${jitsi.guests.allowed ? "les invités attendent en salle d'attente" : "pas d'invités"} ; salles protégeables par mot de passe.`,
      en: `Jitsi: only admin and staff members open a room; ${jitsi.guests.allowed ? "guests wait in the lobby" : "no guests"}; rooms can have passwords.`,
    });
  if (nextcloud.enabled)
    access.push({
      fr: `Nextcloud : liens publics ${nextcloud.shareLinks.requirePassword ? "avec mot de passe et " : "avec "}date d'expiration obligatoires ; protection contre les attaques par force brute.`,
      en: `Nextcloud: public links require ${nextcloud.shareLinks.requirePassword ? "a password and " : ""}an expiry date; brute-force protection.`,
    });
  add({
    id: "access",
    title: { fr: "Contrôle des accès", en: "Access control" },
    status: "in-place",
    detail: { fr: access.map((a) => a.fr).join(" "), en: access.map((a) => a.en).join(" ") },
  });

  for (const measure of identityMeasures(config)) add(measure);

  if (nextcloud.enabled)
    add({
      id: "two-factor",
      title: { fr: "Double authentification des administrateurs", en: "Two-factor authentication for admins" },
      status: nextcloud.adminTwoFactor ? "in-place" : "not-provided",
      detail: nextcloud.adminTwoFactor
        ? {
            fr: "Les administrateurs de l'association (groupe _admins-2fa de Nextcloud) doivent se connecter avec une application d'authentification (TOTP) ; le compte de service de Bastide n'en fait pas partie.",
            en: "The association's admins (Nextcloud group _admins-2fa) must sign in with an authenticator app (TOTP); Bastide's service account is not in it.",
          }
        : { fr: "Désactivée par la configuration (services.nextcloud.adminTwoFactor: false).", en: "Turned off by the config (services.nextcloud.adminTwoFactor: false)." },
    });

  const logMb = dockerSizeMb(LOG_ROTATION["max-size"]);
  add({
    id: "logs",
    title: { fr: "Journaux bornés et masqués", en: "Bounded and masked logs" },
    status: proxy.accessLog.anonymiseAddresses ? "in-place" : "partial",
    detail: {
      fr: `Journaux des conteneurs renouvelés (${LOG_ROTATION["max-file"]} fichiers de ${logMb} Mio au plus). Journaux d'accès gardés ${proxy.accessLog.retentionDays} jours${proxy.accessLog.anonymiseAddresses ? ", adresses IP tronquées" : ", adresses IP complètes (services.proxy.accessLog.anonymiseAddresses: false)"}, sans cookies ni en-têtes d'authentification.`,
      en: `Container logs rolled (at most ${LOG_ROTATION["max-file"]} files of ${logMb} MiB). Access logs kept ${proxy.accessLog.retentionDays} days${proxy.accessLog.anonymiseAddresses ? ", IP addresses truncated" : ", full IP addresses (services.proxy.accessLog.anonymiseAddresses: false)"}, without cookies or authentication headers.`,
    },
  });

  const volumes = services.flatMap((b) => b.volumes).length;
  add({
    id: "volumes",
    title: { fr: "Volumes de données protégés", en: "Protected data volumes" },
    status: "in-place",
    detail: {
      fr: `Les ${volumes} volumes de données sont protégés : « pulumi destroy » refuse de les supprimer et, même forcé, les laisse sur le serveur.`,
      en: `The ${volumes} data volumes are protected: \`pulumi destroy\` refuses to delete them and, even when forced, leaves them on the server.`,
    },
  });

  add(backupMeasure(config, drill));

  add({
    id: "disk-encryption",
    title: { fr: "Chiffrement des disques", en: "Disk encryption" },
    status: "not-provided",
    detail: {
      fr: "Bastide ne chiffre pas les disques du serveur : les données y sont protégées par l'accès au serveur et par les engagements de l'hébergeur.",
      en: "Bastide does not encrypt the server's disks: the data there are protected by access to the server and by the provider's commitments.",
    },
  });
  return measures;
}

/**
 * The identity provider's measures: one login, a second factor by role (each relaxation quoted
 * with its reason), the password policy and what it cannot check, the lock-out. Without it,
 * the register says plainly that each service keeps its own password.
 */
export function identityMeasures(config: Association): SecurityMeasure[] {
  const { identity } = config.services;
  if (!identity.enabled)
    return [
      {
        id: "single-sign-on",
        title: { fr: "Un seul compte par membre", en: "One account per member" },
        status: "not-provided",
        detail: {
          fr: "Fournisseur d'identité désactivé (services.identity.enabled: false) : chaque service a son propre mot de passe, et seuls les administrateurs de Nextcloud ont un second facteur.",
          en: "Identity provider off (services.identity.enabled: false): each service has its own password, and only Nextcloud's admins have a second factor.",
        },
      },
    ];
  const host = `https://${hostnames(config).identity}`;
  const { nextcloud, matrix, jitsi } = config.services;
  /** The services that open with the one login: Jitsi's token login is not wired to it yet. */
  const opened = [...(nextcloud.enabled ? ["Nextcloud"] : []), ...(matrix.enabled ? ["Matrix"] : [])];
  const roles = twoFactorRoles(config);
  const required = roles.filter((r) => r.required);
  const relaxed = roles.filter((r) => !r.required);
  return [
    {
      id: "single-sign-on",
      title: { fr: "Un seul compte par membre", en: "One account per member" },
      status: "in-place",
      detail: {
        fr: [
          `Chaque membre a un seul compte, sur ${host} (Keycloak)${opened.length > 0 ? `, qui ouvre ${opened.join(" et ")} ; la connexion par mot de passe propre à ${opened.join(" et à ")} est fermée aux membres` : ""}.`,
          ...(jitsi.enabled ? ["Jitsi garde ses propres comptes d'animateurs tant que sa connexion par jeton n'est pas reliée au fournisseur d'identité."] : []),
          "Le membre choisit lui-même son mot de passe à la première connexion : l'administrateur n'en voit aucun.",
          `Au départ d'un membre, son compte est désactivé et toutes ses sessions sont fermées, dans Keycloak${opened.length > 0 ? ` et, par déconnexion en arrière-plan (back-channel logout), dans ${opened.join(" et ")}` : ""}.`,
          "La console d'administration de Keycloak (/admin) et le royaume où son administrateur se connecte (/realms/master) ne sont joignables que par le VPN.",
        ].join(" "),
        en: [
          `Each member has one account, at ${host} (Keycloak)${opened.length > 0 ? `, that opens ${opened.join(" and ")}; ${opened.join("'s and ")}'s own password login is closed to members` : ""}.`,
          ...(jitsi.enabled ? ["Jitsi keeps its own host accounts until its token login is wired to the identity provider."] : []),
          "The member chooses their own password at first login: the admin sees none.",
          `When a member leaves, their account is disabled and all their sessions ended, in Keycloak${opened.length > 0 ? ` and, by back-channel logout, in ${opened.join(" and ")}` : ""}.`,
          "Keycloak's admin console (/admin) and the realm its admin logs in to (/realms/master) are reachable through the VPN only.",
        ].join(" "),
      },
    },
    {
      id: "identity-two-factor",
      title: { fr: "Double authentification des membres", en: "Two-factor login for members" },
      status: relaxed.length === 0 ? "in-place" : "partial",
      detail:
        relaxed.length === 0
          ? {
              fr: "Tous les membres, quel que soit leur rôle, se connectent avec un second facteur : une application d'authentification (TOTP) ; Keycloak n'accepte pas encore ici une clé d'accès (WebAuthn) à la place. Il est demandé dès la première connexion, et la connexion est refusée sans lui.",
              en: "Every member, whatever their role, logs in with a second factor: an authenticator app (TOTP); a passkey (WebAuthn) is not yet accepted in its place. It is asked at first login, and login is refused without it.",
            }
          : {
              fr: `Second facteur (application d'authentification TOTP) exigé des ${required.map((r) => r.name.fr).join(" et des ")} ; facultatif, par choix de l'association, pour : ${relaxed.map((r) => `${r.name.fr}, parce que « ${r.reason} » (services.identity.twoFactor.${r.role}.relaxedBecause)`).join(" ; ")}.`,
              en: `Second factor (TOTP authenticator app) required of ${required.map((r) => r.name.en).join(" and ")}; optional, by the association's choice, for: ${relaxed.map((r) => `${r.name.en}, because "${r.reason}" (services.identity.twoFactor.${r.role}.relaxedBecause)`).join("; ")}.`,
            },
    },
    {
      id: "passwords",
      title: { fr: "Politique de mots de passe et verrouillage", en: "Password policy and lock-out" },
      status: "in-place",
      detail: {
        fr: `Au moins ${identity.passwords.minimumLength} caractères, différent de l'identifiant et de l'adresse e-mail, sans reprendre un mot de passe récent ; mots de passe conservés sous forme d'empreinte Argon2. Keycloak ne peut pas vérifier qu'un mot de passe figure dans une liste de mots de passe divulgués, ni qu'il ne reprend pas le nom du membre ou celui de l'association : le second facteur compense ce risque. Après ${identity.lockoutAfterFailures} échecs de connexion, le compte est verrouillé temporairement (protection contre la force brute).`,
        en: `At least ${identity.passwords.minimumLength} characters, different from the user name and the e-mail address, not a recent password again; passwords kept as Argon2 hashes. Keycloak cannot check that a password is on a list of breached passwords, nor that it does not reuse the member's or the association's name: the second factor offsets that risk. After ${identity.lockoutAfterFailures} failed logins, the account is locked for a while (brute-force protection).`,
      },
    },
  ];
}
