// Who a member asks: the association's administrators (members with role admin, by name and
// e-mail, as the file lists them), the association's own address, and the data protection
// officer; and where the privacy notice for members is published.
import type { Association } from "../../stacks/config/schema.ts";
import { hostnames } from "../../stacks/services/hosts.ts";
import { noticeAddress } from "../../stacks/services/proxy/notices.ts";
import type { SheetLanguage } from "./sheet.ts";

export interface SheetContacts {
  admins: { name: string; email: string }[];
  /** organisation.contact */
  association: string;
  dpo: { name: string; email: string };
  /** The members' privacy notice, by language; false when no web service is deployed to publish it. */
  privacyNotice: Record<SheetLanguage, string> | false;
}

/** The host the sheets name: the first web service the config deploys, in this order. */
const NOTICE_HOSTS = [
  { service: "nextcloud", host: "cloud" },
  { service: "matrix", host: "element" },
  { service: "jitsi", host: "meet" },
  { service: "polls", host: "polls" },
  { service: "identity", host: "identity" },
] as const;

/**
 * Where the members' information notice (GDPR art. 13) is published, in `language`: the
 * proxy serves it at the same path on every public host (stacks/services/proxy/notices.ts);
 * the sheets name it on the first web service deployed (Nextcloud's host in every usual
 * config). Undefined when no web service is deployed.
 */
export function privacyNoticeAddress(config: Association, language: SheetLanguage): string | undefined {
  const where = NOTICE_HOSTS.find((h) => config.services[h.service].enabled);
  return where ? noticeAddress(hostnames(config)[where.host], "notice-members", language) : undefined;
}

export function sheetContacts(config: Association): SheetContacts {
  const [fr, en] = [privacyNoticeAddress(config, "fr"), privacyNoticeAddress(config, "en")];
  return {
    admins: config.members.filter((m) => m.role === "admin").map((m) => ({ name: m.name, email: m.email })),
    association: config.organisation.contact,
    dpo: { ...config.organisation.dpo },
    privacyNotice: fr && en ? { fr, en } : false,
  };
}
