// The VPN's entry in the register of processing: staff devices' peers, what WireGuard
// learns at each connection, and the DNS queries peers send through the tunnel.
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type ProcessingActivity, NO_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { fixedRetention } from "../../../policies/rgpd/settings.ts";
import { COREFILE_PATH, DNS_UPSTREAM, SERVER_CONF_PATH } from "./blueprint.ts";

export const activity: ProcessingActivity = {
  service: "vpn",
  name: { fr: "Réseau privé des administrateurs (VPN WireGuard)", en: "Admins' private network (WireGuard VPN)" },
  purpose: {
    fr: "Réserver les pages d'administration aux appareils des membres administrateurs et animateurs.",
    en: "Keep the admin pages to the devices of admin and staff members.",
  },
  sensitiveData: { possible: false, statement: NO_SENSITIVE_DATA },
};

export function register(_config: Association): DataCategory[] {
  const security = {
    article: "f" as const,
    justification: {
      fr: "intérêt légitime à protéger l'administration des services (considérant 49 du RGPD)",
      en: "legitimate interest in protecting the services' administration (GDPR recital 49)",
    },
  };
  return [
    {
      id: "vpn.peers",
      service: "vpn",
      name: { fr: "Appareils autorisés (pairs)", en: "Authorised devices (peers)" },
      data: {
        fr: "identifiant du membre et nom de l'appareil, clé publique WireGuard, adresse dans le tunnel ; la clé privée de l'appareil ne va que dans son profil, le serveur ne la garde pas",
        en: "member id and device name, WireGuard public key, tunnel address; the device's private key only goes into its profile, the server does not keep it",
      },
      purpose: { fr: "Savoir quels appareils peuvent entrer dans le réseau privé.", en: "Know which devices may join the private network." },
      legalBasis: security,
      dataSubjects: ["staff"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention({ kind: "account", graceDays: 0 }, "members[].devices", {
        fr: "Retiré dès que l'appareil ou le membre quitte la liste.",
        en: "Removed as soon as the device or the member leaves the list.",
      }),
      enforcedBy: {
        how: { fr: "La configuration du serveur est régénérée depuis la liste des appareils à chaque déploiement.", en: "The server's configuration is regenerated from the device list at each deployment." },
        mechanism: `WireGuard ${SERVER_CONF_PATH} [Peer] sections, rendered from members[].devices`,
      },
      auditable: true,
    },
    {
      id: "vpn.handshakes",
      service: "vpn",
      name: { fr: "Métadonnées de connexion au VPN", en: "VPN connection metadata" },
      data: {
        fr: "adresse IP publique et port de l'appareil lors de sa dernière connexion, heure de la dernière poignée de main, volume échangé",
        en: "the device's public IP address and port at its last connection, time of the last handshake, bytes exchanged",
      },
      purpose: { fr: "Acheminer le trafic du tunnel vers l'appareil.", en: "Route the tunnel's traffic to the device." },
      legalBasis: security,
      dataSubjects: ["staff"],
      recipients: [RECIPIENTS.admins],
      retention: fixedRetention(
        {
          kind: "session",
          until: { fr: "la connexion suivante de l'appareil ou le redémarrage du conteneur", en: "the device's next connection or the container's restart" },
        },
        "WireGuard kernel state (not configurable)",
        {
          fr: "Gardées en mémoire par le noyau, jamais écrites sur disque ; le contrôle de santé ne lit que le port d'écoute, pour que les adresses n'aillent pas dans l'historique de Docker.",
          en: "Held in kernel memory, never written to disk; the health check reads the listening port only, so addresses stay out of Docker's history.",
        },
      ),
      enforcedBy: {
        how: { fr: "WireGuard remplace ces valeurs à chaque connexion et ne les journalise pas.", en: "WireGuard replaces these values at each connection and does not log them." },
        mechanism: "WireGuard in-kernel peer state; health check `wg show wg0 listen-port`",
      },
      auditable: false,
    },
    {
      id: "vpn.dns",
      service: "vpn",
      name: { fr: "Requêtes DNS des appareils", en: "Devices' DNS queries" },
      data: { fr: "noms de domaine demandés par les appareils connectés au VPN", en: "domain names looked up by devices on the VPN" },
      purpose: { fr: "Diriger les noms des services vers le tunnel et résoudre les autres.", en: "Point the services' names at the tunnel and resolve the others." },
      legalBasis: security,
      dataSubjects: ["staff"],
      recipients: [
        {
          fr: `${DNS_UPSTREAM.name} (Suisse), pour les noms extérieurs, en DNS-over-TLS et depuis l'adresse du serveur, pas celle du membre`,
          en: `${DNS_UPSTREAM.name} (Switzerland), for outside names, over DNS-over-TLS and from the server's address, not the member's`,
        },
      ],
      retention: fixedRetention(
        { kind: "session", until: { fr: "la fin de la mise en cache (5 minutes au plus)", en: "the end of caching (5 minutes at most)" } },
        `CoreDNS ${COREFILE_PATH}: cache 300, no log plugin`,
      ),
      enforcedBy: {
        how: { fr: "Le résolveur ne journalise pas les requêtes et ne garde les réponses que quelques minutes en cache.", en: "The resolver does not log queries and keeps answers cached for a few minutes only." },
        mechanism: `CoreDNS ${COREFILE_PATH}: cache 300, no log plugin, forward to ${DNS_UPSTREAM.servers.map((s) => `tls://${s}`).join(" ")}`,
      },
      auditable: true,
    },
  ];
}
