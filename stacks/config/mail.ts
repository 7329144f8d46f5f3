// The association's outgoing mail relay, optional. Without it Nextcloud sends nothing:
// no "forgot password", no share or calendar notifications. Its password never goes in
// the association file: `pulumi config set --secret bastide:smtpPassword ...`.
import { z } from "zod";
import { email, text } from "./fields.ts";

/** Pulumi config key of the relay's password (secret). */
export const SMTP_PASSWORD_CONFIG = "smtpPassword";
/** Name of that secret inside the stack, as services ask for it. */
export const SMTP_PASSWORD_SECRET = "smtp-password";

const HOSTNAME = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i;

export const mailSettings = z.strictObject({
  /** The relay, e.g. the association's mail provider's submission server. */
  host: z.string().regex(HOSTNAME, { error: "must be the relay's host name, such as smtp.example.org" }),
  port: z.number().int().min(1, { error: "must be 1-65535" }).max(65535, { error: "must be 1-65535" }).default(587),
  /** starttls (port 587) or tls (implicit TLS, port 465); never plain text. */
  security: z.enum(["starttls", "tls"], { error: "must be starttls (port 587) or tls (port 465): mail is never sent in clear" }).default("starttls"),
  /** The sender of every mail the services send. */
  from: email,
  /** Login at the relay; its password comes from `pulumi config set --secret bastide:smtpPassword`. */
  username: text({ max: 254, example: "ne-pas-repondre@asso-exemple.fr" }).optional(),
});

export type MailSettings = z.infer<typeof mailSettings>;
