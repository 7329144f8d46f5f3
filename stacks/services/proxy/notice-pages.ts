// The information notices rendered for the proxy. They are made from the register, which
// reads every blueprint: the catalog hands this renderer to the proxy in its context, to be
// called when the Caddyfile is written, after every blueprint exists.
import type { Association } from "../../config/schema.ts";
import { LANGUAGES } from "../../../policies/rgpd/model.ts";
import { publishedNotices, type NoticeId } from "../../../policies/reports/companions.ts";
import { renderCompanionHtml } from "../../../policies/reports/html.ts";
import { noticePath, type NoticePage } from "./notices.ts";

/**
 * The page with every brace outside its style written as an HTML entity. Caddy reads `{$VAR}`
 * in the Caddyfile and `{env.VAR}` in an answer's body as its environment, where the
 * provisioning token lives: a name in the association file must stay text. The style's own
 * braces stay (Caddy leaves a placeholder it does not know as it is: `{ margin: 0 }`).
 */
export const withoutPlaceholders = (html: string): string =>
  html.replace(/<style>[\s\S]*?<\/style>|[{}]/g, (part) => (part === "{" ? "&#123;" : part === "}" ? "&#125;" : part));

/**
 * The notices that apply to the config, each a self-contained HTML page (inline style, no
 * script, nothing fetched) with the path it is served at. The Caddyfile carries them, so the
 * proxy needs no other file and they change exactly when the Caddyfile does.
 */
export function noticePages(config: Association): NoticePage[] {
  return LANGUAGES.flatMap((language) =>
    publishedNotices(config, language).map((notice) => {
      const html = withoutPlaceholders(renderCompanionHtml(notice).trimEnd());
      // The Caddyfile holds the page as one `backquoted` token, which has no escape: values are
      // HTML-escaped (a backquote becomes &#x60;), so only Bastide's own style or template could add one.
      if (html.includes("`")) throw new Error(`the ${notice.id} page holds a backquote, which the Caddyfile cannot carry: remove it from templates/reports/`);
      return { path: noticePath(notice.id as NoticeId, language), html };
    }),
  );
}

