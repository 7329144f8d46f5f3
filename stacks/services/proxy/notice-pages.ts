// The information notices rendered for the proxy. They are made from the register, which
// reads every blueprint: the catalog hands this renderer to the proxy in its context, to be
// called when the Caddyfile is written, after every blueprint exists.
import type { Association } from "../../config/schema.ts";
import { LANGUAGES } from "../../../policies/rgpd/model.ts";
import { publishedNotices, type NoticeId } from "../../../policies/reports/companions.ts";
import { renderCompanionHtml } from "../../../policies/reports/html.ts";
import { noticePath, type NoticePage } from "./notices.ts";

/**
 * The notices that apply to the config, each a self-contained HTML page (inline style, no
 * script, nothing fetched) with the path it is served at. The Caddyfile carries them, so the
 * proxy needs no other file and they change exactly when the Caddyfile does.
 */
export function noticePages(config: Association): NoticePage[] {
  return LANGUAGES.flatMap((language) =>
    publishedNotices(config, language).map((notice) => ({ path: noticePath(notice.id as NoticeId, language), html: renderCompanionHtml(notice).trimEnd() })),
  );
}

