// Where the data live and who else receives any of it: the hosting provider, the
// certificate authority, the VPN's DNS resolver, the mobile apps' push gateways and,
// when the config turns them on, federation and dial-in. Derived from the config and
// the blueprints, so an option turned off drops its line.
import type { Association } from "../../stacks/config/schema.ts";
import { hostCountry } from "../../stacks/host/settings.ts";
import { blueprints } from "../../stacks/services/catalog.ts";
import { DNS_UPSTREAM } from "../../stacks/services/vpn/blueprint.ts";
import { homeserverSettings } from "../../stacks/services/matrix/blueprint.ts";
import { volumeName, type ServiceName } from "../../stacks/services/blueprint.ts";
import type { Localized } from "../rgpd/model.ts";
import { countryName } from "./text.ts";
import { backupRecipient } from "./backups.ts";

export interface Hosting {
  target: Association["host"]["target"];
  provider: Localized;
  /** Where the provider is established; undefined for a laptop or an unnamed provider. */
  providerCountry?: string;
  /** Where the server, so the data, is; undefined for a laptop. */
  country?: string;
  region?: Localized;
  statement: Localized;
}

const HETZNER_SITES: Record<string, string> = { fsn1: "Falkenstein", nbg1: "Nuremberg", hel1: "Helsinki" };
const SCALEWAY_SITES: Record<string, Localized> = {
  "fr-par": { fr: "Paris", en: "Paris" },
  "nl-ams": { fr: "Amsterdam", en: "Amsterdam" },
  "pl-waw": { fr: "Varsovie", en: "Warsaw" },
};

export function hosting(config: Association): Hosting {
  const host = config.host;
  const country = hostCountry(host);
  switch (host.target) {
    case "hetzner": {
      const site = HETZNER_SITES[host.location] ?? host.location;
      return {
        target: host.target,
        provider: { fr: "Hetzner Online GmbH", en: "Hetzner Online GmbH" },
        providerCountry: "DE",
        country,
        region: { fr: `${host.location} (${site})`, en: `${host.location} (${site})` },
        statement: {
          fr: "Serveur virtuel loué chez Hetzner, dans un centre de données de l'Union européenne ; Hetzner agit comme sous-traitant (article 28 du RGPD), selon son contrat de traitement des données.",
          en: "A virtual server rented from Hetzner, in a data centre in the European Union; Hetzner acts as a processor (GDPR Article 28) under its data processing agreement.",
        },
      };
    }
    case "scaleway": {
      const site = SCALEWAY_SITES[host.zone.replace(/-\d+$/, "")];
      return {
        target: host.target,
        provider: { fr: "Scaleway SAS", en: "Scaleway SAS" },
        providerCountry: "FR",
        country,
        region: { fr: `${host.zone} (${site?.fr ?? host.zone})`, en: `${host.zone} (${site?.en ?? host.zone})` },
        statement: {
          fr: "Instance louée chez Scaleway, dans un centre de données de l'Union européenne ; Scaleway agit comme sous-traitant (article 28 du RGPD), selon son contrat de traitement des données.",
          en: "An instance rented from Scaleway, in a data centre in the European Union; Scaleway acts as a processor (GDPR Article 28) under its data processing agreement.",
        },
      };
    }
    case "ssh":
      return {
        target: host.target,
        provider: { fr: "serveur fourni par l'administrateur", en: "the admin's own server" },
        country,
        region: { fr: `serveur ${host.address}`, en: `server ${host.address}` },
        statement: {
          fr: "Serveur existant, joint par SSH. La configuration indique son pays mais pas son hébergeur : si un prestataire l'héberge, le DPO doit l'ajouter comme sous-traitant avec son contrat (article 28 du RGPD).",
          en: "An existing server, reached over SSH. The config gives its country but not its host: if a provider hosts it, the DPO must add it as a processor with its contract (GDPR Article 28).",
        },
      };
    case "local":
      return {
        target: host.target,
        provider: { fr: "machine de test locale", en: "local test machine" },
        statement: {
          fr: "Déploiement de test sur l'ordinateur de l'administrateur : les données ne quittent pas cette machine. Ce n'est pas un déploiement de production.",
          en: "A test deployment on the admin's computer: the data stay on that machine. This is not a production deployment.",
        },
      };
  }
}

/** The config file and Pulumi's state hold the member list too: say where they live. */
export const DEPLOYMENT_STATE: Localized = {
  fr: "Le fichier de configuration et l'état Pulumi (membres avec nom et adresse e-mail, équipes, appareils, dates de départ ; secrets chiffrés) restent là où l'administrateur lance Pulumi : par défaut sur son ordinateur (état dans ~/.bastide/pulumi avec « npm run deploy »). Si l'état est confié à un autre service (Pulumi Cloud, aux États-Unis, ou un stockage en ligne), le DPO doit l'ajouter comme sous-traitant.",
  en: "The config file and Pulumi's state (members with name and e-mail address, teams, devices, departure dates; encrypted secrets) stay where the admin runs Pulumi: by default on their computer (state in ~/.bastide/pulumi with `npm run deploy`). If the state is kept by another service (Pulumi Cloud, in the United States, or online storage), the DPO must add it as a processor.",
};

export interface Recipient {
  name: Localized;
  kind: "processor" | "third-party";
  role: Localized;
  /** ISO country code, or a description when several countries. */
  country: Localized;
  data: Localized;
  when: Localized;
  /** The service it concerns, if one. */
  service?: ServiceName;
  /** True when data may leave the EU/EEA, even with an adequacy decision. */
  outsideEu: boolean;
  /** The holder of the backups: a copy of every processing's data, so a processor of each sheet. */
  holdsBackups?: boolean;
  /** Outside the EU/EEA: what frames the transfer (GDPR chapter V), or why nothing does. */
  safeguard?: Localized;
  /** Outside the EU/EEA: how the association avoids the transfer, and the setting that does it when there is one. */
  avoidance?: { how: Localized; setting?: string };
}

const same = (name: string): Localized => ({ fr: name, en: name });

/** The hosting provider, and every third party the configured stack sends personal data to. */
export function recipients(config: Association): Recipient[] {
  const host = hosting(config);
  const services = config.services;
  const list: Recipient[] = [];
  const always = { fr: "en permanence", en: "at all times" };

  if (config.host.target === "hetzner" || config.host.target === "scaleway") {
    list.push({
      name: same(host.provider.en),
      kind: "processor",
      role: { fr: "hébergement du serveur et de ses disques", en: "hosts the server and its disks" },
      // The host's country is known for a rented server: its name, not its code, for the DPO.
      country: { fr: host.country ? countryName(host.country, "fr") : "", en: host.country ? countryName(host.country, "en") : "" },
      data: { fr: "toutes les données de ce registre, stockées sur ses disques", en: "all the data in this record, stored on its disks" },
      when: always,
      outsideEu: false,
    });
  }

  const backups = backupRecipient(config);
  if (backups) list.push(backups);

  if (config.host.target !== "local") {
    const acmeEmail = services.proxy.acmeEmail ?? config.organisation.contact;
    list.push({
      name: same("Let's Encrypt (Internet Security Research Group)"),
      kind: "third-party",
      role: { fr: "autorité de certification TLS", en: "TLS certificate authority" },
      country: { fr: "US", en: "US" },
      data: {
        fr: `noms de domaine des services et adresse de contact du compte auprès de l'autorité (${acmeEmail}) ; aucune donnée des membres`,
        en: `the services' domain names and the ACME account's contact address (${acmeEmail}); no member data`,
      },
      when: { fr: "à l'obtention et au renouvellement des certificats", en: "when certificates are issued and renewed" },
      service: "proxy",
      outsideEu: true,
      safeguard: {
        fr: "Aucune décision d'adéquation ni clause contractuelle : l'ISRG est une fondation américaine que l'association ne lie par aucun contrat. Le DPO vérifie sur la liste officielle du cadre de protection des données UE–États-Unis si elle y figure. Le transfert ne porte que sur des noms de domaine publics et une adresse de contact, sans donnée des membres ; il est nécessaire au chiffrement des connexions.",
        en: "No adequacy decision and no contractual clauses: ISRG is a US foundation the association has no contract with. The DPO checks on the official EU–US Data Privacy Framework list whether it is certified. The transfer carries only public domain names and a contact address, no member data; it is needed to encrypt connections.",
      },
      avoidance: {
        how: {
          fr: "Aucun réglage ne l'évite : Bastide n'obtient ses certificats que de Let's Encrypt. Une adresse de contact non nominative (par exemple technique@) réduit le transfert à des données qui ne désignent personne.",
          en: "No setting avoids it: Bastide gets its certificates from Let's Encrypt only. A contact address that names nobody (such as tech@) reduces the transfer to data that identify no one.",
        },
        setting: "services.proxy.acmeEmail",
      },
    });
  }

  if (config.mail && services.nextcloud.enabled) {
    list.push({
      name: same(config.mail.host),
      kind: "processor",
      role: { fr: "relais de courrier sortant de l'association", en: "the association's outgoing mail relay" },
      country: { fr: "à préciser par le responsable (contrat du fournisseur)", en: "to be stated by the controller (the provider's contract)" },
      data: {
        fr: "adresses électroniques des membres et contenu des notifications (mots de passe oubliés, partages, invitations d'agenda)",
        en: "members' e-mail addresses and the content of notifications (forgotten passwords, shares, calendar invitations)",
      },
      when: { fr: "à chaque courrier envoyé par Nextcloud", en: "whenever Nextcloud sends a mail" },
      service: "nextcloud",
      outsideEu: false,
    });
  }

  if (services.vpn.enabled) {
    list.push({
      name: same(`${DNS_UPSTREAM.name} (Quad9 Foundation)`),
      kind: "third-party",
      role: { fr: "résolveur DNS des appareils connectés au VPN", en: "DNS resolver for devices on the VPN" },
      country: { fr: "CH (décision d'adéquation)", en: "CH (adequacy decision)" },
      data: {
        fr: "noms de domaine extérieurs demandés par ces appareils, chiffrés (DNS-over-TLS), envoyés depuis l'adresse du serveur ; Quad9 ne garde pas les adresses IP",
        en: "outside domain names these devices look up, encrypted (DNS-over-TLS), sent from the server's address; Quad9 keeps no IP addresses",
      },
      when: { fr: "quand un appareil connecté au VPN consulte un site extérieur", en: "when a device on the VPN looks up an outside site" },
      service: "vpn",
      outsideEu: true,
      safeguard: {
        fr: "Décision d'adéquation de la Commission européenne pour la Suisse (décision 2000/518/CE, confirmée en 2024).",
        en: "The European Commission's adequacy decision for Switzerland (Decision 2000/518/EC, confirmed in 2024).",
      },
      avoidance: {
        how: {
          fr: "Couper le VPN évite ce transfert ; aucun réglage ne change le résolveur.",
          en: "Turning the VPN off avoids this transfer; no setting changes the resolver.",
        },
        setting: "services.vpn.enabled: false",
      },
    });
  }

  if (services.matrix.enabled) {
    list.push({
      name: {
        fr: "Passerelles de notification (Element, Google Firebase Cloud Messaging, Apple Push Notification service)",
        en: "Push gateways (Element, Google Firebase Cloud Messaging, Apple Push Notification service)",
      },
      kind: "third-party",
      role: { fr: "notifications des applications mobiles Matrix", en: "notifications of Matrix mobile apps" },
      country: { fr: "GB (décision d'adéquation), US", en: "GB (adequacy decision), US" },
      data: {
        fr: "jeton de l'appareil et identifiants du salon et du message ; selon l'application, l'expéditeur et le texte des salons non chiffrés",
        en: "the device token and the room and message identifiers; depending on the app, the sender and text in unencrypted rooms",
      },
      when: {
        fr: "seulement si un membre active les notifications d'une application mobile ; le client web n'en envoie pas",
        en: "only if a member turns notifications on in a mobile app; the web client sends none",
      },
      service: "matrix",
      outsideEu: true,
      safeguard: {
        fr: "Royaume-Uni (passerelle d'Element) : décision d'adéquation de la Commission (décision 2021/1772). États-Unis : décision d'adéquation du 10 juillet 2023 pour le cadre de protection des données UE–États-Unis, pour les entreprises certifiées ; le DPO vérifie sur la liste officielle que Google LLC et Apple Inc. y figurent.",
        en: "United Kingdom (Element's gateway): the Commission's adequacy decision (Decision 2021/1772). United States: the adequacy decision of 10 July 2023 for the EU–US Data Privacy Framework, for certified companies; the DPO checks on the official list that Google LLC and Apple Inc. are on it.",
      },
      avoidance: {
        how: {
          fr: "Le membre ne l'active pas : le client web n'envoie aucune notification, et l'application mobile seulement si le membre l'accepte. Bastide n'a pas de réglage qui coupe les notifications pour tout le serveur.",
          en: "The member does not turn it on: the web client sends no notification, and the mobile app only if the member agrees. Bastide has no setting that turns notifications off for the whole server.",
        },
      },
    });
    if (services.matrix.federation.enabled) {
      const keyServers = (homeserverSettings(config).trusted_key_servers ?? []).map((s) => s.server_name).join(", ");
      list.push({
        name: { fr: "Fédération Matrix", en: "Matrix federation" },
        kind: "third-party",
        role: { fr: "serveurs Matrix des participants extérieurs", en: "the Matrix servers of outside participants" },
        country: { fr: "tout pays", en: "any country" },
        data: {
          fr: `messages, fichiers et profils échangés dans les salons fédérés ; clés des serveurs vérifiées auprès de ${keyServers}. Motif : ${services.matrix.federation.reason ?? ""}`,
          en: `messages, files and profiles exchanged in federated rooms; server keys checked with ${keyServers}. Reason: ${services.matrix.federation.reason ?? ""}`,
        },
        when: { fr: "quand un salon compte des participants d'autres serveurs", en: "when a room has participants from other servers" },
        service: "matrix",
        outsideEu: true,
        safeguard: {
          fr: "Aucune : les serveurs des participants extérieurs, choisis par eux, peuvent être dans tout pays et ne sont liés à l'association par aucun contrat. Les messages y partent parce qu'un membre a invité ces participants dans un salon ; le motif inscrit par l'association est cité ci-dessus.",
          en: "None: the outside participants' servers, chosen by them, may be in any country and have no contract with the association. Messages go there because a member invited those participants into a room; the association's stated reason is quoted above.",
        },
        avoidance: {
          how: {
            fr: "Couper la fédération (réglage par défaut) : les salons restent alors limités au serveur de l'association.",
            en: "Turn federation off (the default): rooms then stay on the association's server.",
          },
          setting: "services.matrix.federation.enabled: false",
        },
      });
    }
  }

  if (services.jitsi.enabled && services.jitsi.dialIn.enabled) {
    list.push({
      name: {
        fr: `Opérateur téléphonique (${services.jitsi.dialIn.numbersUrl ?? ""})`,
        en: `Telephony provider (${services.jitsi.dialIn.numbersUrl ?? ""})`,
      },
      kind: "third-party",
      role: { fr: "opérateur téléphonique de l'accès aux réunions par téléphone", en: "telephony provider for dialling into meetings" },
      country: { fr: "à vérifier par le DPO", en: "to be checked by the DPO" },
      data: { fr: "numéro de téléphone et voix des participants qui appellent", en: "phone number and voice of participants who dial in" },
      when: { fr: "quand quelqu'un rejoint une réunion par téléphone", en: "when someone joins a meeting by phone" },
      service: "jitsi",
      outsideEu: false,
    });
  }
  return list;
}

/** Where image references are pulled from: Docker Hub unless the name starts with a registry host. */
export function registryOf(image: string): string {
  const first = image.split("/")[0]!;
  return image.includes("/") && (first.includes(".") || first.includes(":")) ? first : "docker.io";
}

export interface Connection {
  name: string;
  purpose: Localized;
}

/** Outgoing connections that carry no personal data, stated so the DPO knows of them. */
export function connectionsWithoutPersonalData(config: Association): Connection[] {
  const registries = [...new Set(blueprints(config).flatMap((b) => b.containers.filter((c) => !c.build).map((c) => registryOf(c.image))))].sort();
  const list: Connection[] = registries.map((name) => ({
    name,
    purpose: { fr: "téléchargement des images des conteneurs, au déploiement", en: "download of the container images, at deployment" },
  }));
  if (config.services.polls.enabled)
    list.push({
      name: "packages.framasoft.org",
      purpose: { fr: "téléchargement de Framadate, à la construction de son image", en: "download of Framadate, when its image is built" },
    });
  if (config.services.nextcloud.enabled)
    list.push({
      name: "apps.nextcloud.com",
      purpose: {
        fr: "catalogue d'applications de Nextcloud, consulté depuis ses pages d'administration (la vérification des mises à jour est coupée)",
        en: "Nextcloud's app catalogue, read from its admin pages (the update check is off)",
      },
    });
  return list;
}

export interface StoredVolume {
  service: ServiceName;
  volume: string;
  holds: Localized;
}

/** French for what the blueprints say each volume holds; a volume missing here shows its English text. */
const HOLDS_FR: Record<string, (config: Association) => string> = {
  "proxy/data": () => "Certificats TLS et leurs clés ; journaux d'accès (adresses tronquées, renouvelés)",
  "proxy/config": () => "État enregistré par Caddy",
  "jitsi/accounts": () => "Comptes des animateurs (identifiants et empreintes salées des mots de passe) ; les réunions elles-mêmes ne sont jamais stockées",
  "nextcloud/html":
    () => "Fichiers des membres, leur corbeille et leurs anciennes versions ; journal de Nextcloud ; config.php avec le mot de passe de la base et les clés de l'instance ; les programmes",
  "nextcloud/db": () => "Base de données de Nextcloud : comptes, groupes, partages, agendas et contacts, flux d'activité, métadonnées des fichiers et réglages",
  "matrix/data": () => "Fichiers et images envoyés dans la messagerie (avec leurs miniatures) ; clé de signature du serveur",
  "matrix/db": () => "Messages, salons, comptes, appareils et adresses de connexion (PostgreSQL)",
  "polls/db": (config) =>
    "Sondages (titre, description, nom du créateur), dates et propositions, noms des participants, réponses et commentaires ; chaque sondage est supprimé " +
    `${config.services.polls.purgeDelayDays} jours après sa date de fin`,
  "vpn/config": () => "Configuration du serveur WireGuard (clé privée du serveur, clés publiques et adresses des pairs) ; configuration DNS des pairs",
  "identity/db": () =>
    "Identités des membres (identifiant, nom, e-mail, équipes, langue, rôle), empreintes des mots de passe et seconds facteurs, sessions et événements de connexion (PostgreSQL)",
};

/** Each Docker volume and what it holds, as the blueprints declare. */
export function storage(config: Association): StoredVolume[] {
  return blueprints(config).flatMap((b) =>
    b.volumes.map((v) => ({
      service: b.service,
      volume: volumeName(b.service, v.name),
      holds: { fr: HOLDS_FR[`${b.service}/${v.name}`]?.(config) ?? v.holds, en: v.holds },
    })),
  );
}

/** Volumes whose French description is missing: the test keeps this empty. */
export function untranslatedVolumes(config: Association): string[] {
  return blueprints(config).flatMap((b) => b.volumes.filter((v) => !HOLDS_FR[`${b.service}/${v.name}`]).map((v) => volumeName(b.service, v.name)));
}
