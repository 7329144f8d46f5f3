// The proxy's entry in the register of processing: its access logs.
import type { Association } from "../../config/schema.ts";
import { RECIPIENTS, type DataCategory, type ProcessingActivity, NO_SENSITIVE_DATA } from "../../../policies/rgpd/model.ts";
import { configSetting, daysRetention } from "../../../policies/rgpd/settings.ts";

export const activity: ProcessingActivity = {
  service: "proxy",
  name: { fr: "Accès sécurisé aux services (proxy inverse Caddy)", en: "Secure access to the services (Caddy reverse proxy)" },
  purpose: {
    fr: "Chiffrer les connexions (HTTPS), les acheminer vers chaque service et en garder une trace courte pour la sécurité.",
    en: "Encrypt connections (HTTPS), route them to each service and keep a short record of them for security.",
  },
  sensitiveData: { possible: false, statement: NO_SENSITIVE_DATA },
};

/** Caddy rolls the access log at this size (templates/proxy/Caddyfile.hbs). */
export const ACCESS_LOG_ROLL_SIZE = "10MiB";

/**
 * ...and at this minute of every hour. `roll_minutes` (Caddy 2.11, modules/logging/filewriter.go)
 * becomes timberjack's RotateAtMinutes, which rolls from a timer (timberjack v1.4.2, timberjack.go
 * runScheduledRotations), so a quiet server rolls too; `roll_interval` would not: timberjack checks it
 * only when a line is written (timberjack.go, Write). The timer starts with the first line after Caddy
 * starts; a server on the Internet gets one within minutes.
 */
export const ACCESS_LOG_ROLL_MINUTE = 0;

/**
 * How many rolled files Caddy keeps so that no line outlives the retention. A rolled file holds at
 * most one hour of lines; at each roll timberjack deletes all but the `roll_keep` newest (timberjack.go,
 * millRunOnce), so the oldest line of the oldest kept file is at most `roll_keep + 1` hours old.
 * `roll_keep_for` alone is not enough: it has day resolution and is checked only when a file rolls.
 * Size rolls on a busy server add files, which only makes deletion come sooner.
 */
export function accessLogRolling(retentionDays: number): { rollKeep: number; rollKeepForHours: number; oldestLineHours: number } {
  const hours = retentionDays * 24;
  const rollKeep = hours - 1;
  return { rollKeep, rollKeepForHours: hours, oldestLineHours: rollKeep + 1 };
}

export function register(config: Association): DataCategory[] {
  const { anonymiseAddresses, retentionReason } = config.services.proxy.accessLog;
  const retention = configSetting(config, "services.proxy.accessLog.retentionDays");
  const rolling = accessLogRolling(retention.value);
  const address = anonymiseAddresses
    ? { fr: "adresse IP tronquée (réseau /24 en IPv4, /48 en IPv6)", en: "truncated IP address (/24 network for IPv4, /48 for IPv6)" }
    : { fr: "adresse IP complète", en: "full IP address" };
  return [
    {
      id: "proxy.access-logs",
      service: "proxy",
      name: { fr: "Journaux d'accès HTTP", en: "HTTP access logs" },
      data: {
        fr: `${address.fr}, date et heure, site et chemin demandés (ils peuvent contenir l'identifiant d'un lien de partage ou d'un sondage), navigateur utilisé, code et durée de la réponse ; ni cookies ni en-têtes d'authentification`,
        en: `${address.en}, date and time, site and path requested (which may hold the identifier of a share link or a poll), browser (user agent), response code and duration; no cookies or authentication headers`,
      },
      purpose: {
        fr: "Sécurité et dépannage : repérer les abus et diagnostiquer les erreurs.",
        en: "Security and troubleshooting: spot abuse and diagnose errors.",
      },
      legalBasis: {
        article: "f",
        justification: anonymiseAddresses
          ? {
              fr: "intérêt légitime à assurer la sécurité du réseau et des services (considérant 49 du RGPD), avec des adresses tronquées et une conservation courte",
              en: "legitimate interest in the security of the network and the services (GDPR recital 49), with truncated addresses and a short retention",
            }
          : {
              fr: "intérêt légitime à assurer la sécurité du réseau et des services (considérant 49 du RGPD), avec une conservation courte",
              en: "legitimate interest in the security of the network and the services (GDPR recital 49), with a short retention",
            },
      },
      dataSubjects: ["visitors"],
      recipients: [RECIPIENTS.admins],
      retention: daysRetention(
        retention,
        { fr: "après l'écriture de la ligne", en: "after the line is written" },
        {
          fr:
            `Caddy renouvelle le fichier chaque heure (et à 10 Mio) et n'en garde que ${rolling.rollKeep} : aucune ligne n'a plus de ${rolling.oldestLineHours} heures. ` +
            `La CNIL recommande de garder les journaux de sécurité de six mois à un an (délibération n° 2021-122 du 14 octobre 2021).` +
            (retentionReason ? ` L'association les garde ${retention.value} jours pour la raison suivante : ${retentionReason}` : ""),
          en:
            `Caddy rolls the file every hour (and at 10 MiB) and keeps only ${rolling.rollKeep} of them: no line is older than ${rolling.oldestLineHours} hours. ` +
            `The CNIL recommends keeping security logs six months to a year (deliberation no. 2021-122 of 14 October 2021).` +
            (retentionReason ? ` The association keeps them ${retention.value} days for this reason: ${retentionReason}` : ""),
        },
      ),
      enforcedBy: {
        how: {
          fr: anonymiseAddresses
            ? "Caddy tronque les adresses avant d'écrire et supprime les fichiers renouvelés plus anciens que ce délai."
            : "Caddy supprime les fichiers renouvelés plus anciens que ce délai.",
          en: anonymiseAddresses
            ? "Caddy truncates addresses before writing and deletes rolled files older than this period."
            : "Caddy deletes rolled files older than this period.",
        },
        mechanism:
          `Caddy log output file: roll_size ${ACCESS_LOG_ROLL_SIZE}, roll_minutes ${ACCESS_LOG_ROLL_MINUTE}, ` +
          `roll_keep ${rolling.rollKeep}, roll_keep_for ${rolling.rollKeepForHours}h` +
          (anonymiseAddresses ? "; format filter ip_mask ipv4 24 ipv6 48" : ""),
      },
      auditable: true,
    },
  ];
}
