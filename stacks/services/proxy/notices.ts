// The information notices of GDPR art. 13 (members, meeting guests, poll respondents), in
// French and English, published by the proxy at the same paths on every public host. The
// paths are named here only: the Caddyfile serves them, and every link to a notice (the
// services' legal links, the welcome sheets) is built by noticeAddress.
//
// Nothing here renders a notice (notice-pages.ts does): the services' blueprints import this
// file, and the notices are made from every blueprint.
import type { Language } from "../../../policies/rgpd/model.ts";
import type { NoticeId } from "../../../policies/reports/companions.ts";

const NOTICE_PATHS: Record<NoticeId, Record<Language, string>> = {
  "notice-members": { fr: "/confidentialite/membres.html", en: "/privacy/members.html" },
  "notice-guests": { fr: "/confidentialite/invites.html", en: "/privacy/guests.html" },
  "notice-respondents": { fr: "/confidentialite/sondages.html", en: "/privacy/polls.html" },
};

/** The path of a notice on every public host. */
export const noticePath = (notice: NoticeId, language: Language): string => NOTICE_PATHS[notice][language];

/** A notice's address on `host` (each service links to the copy on its own name). */
export const noticeAddress = (host: string, notice: NoticeId, language: Language): string => `https://${host}${noticePath(notice, language)}`;

/** A notice page as the proxy answers it. */
export interface NoticePage {
  path: string;
  html: string;
}
