// Jitsi's part of a request. Prosody keeps an account for staff (their name, a password
// hash) and nothing else: meetings are neither recorded nor stored. The export says
// whether the account exists; the erasure is the Jitsi provisioner's own `account.delete`.
import { listAccounts, type JitsiClient } from "../../provisioners/jitsi/accounts.ts";
import { jitsiProvisioner } from "../../provisioners/jitsi/provisioner.ts";
import { converge } from "../../provisioners/model.ts";
import { only, part, recordConverge, type EraseContext, type ExportContext } from "./context.ts";
import { t } from "./model.ts";

const SERVICE = "jitsi" as const;

export async function exportJitsi(ctx: ExportContext<JitsiClient>): Promise<void> {
  const { rec, member } = ctx;
  const domain = ctx.desired.jitsi?.domain;
  await part(rec, SERVICE, "account", t("compte", "account"), async () => {
    if (!domain && ctx.desired.identity?.meetingKey) {
      // Hosts come with the identity provider's token (stacks/services/jitsi/login.ts): its part of the export has the member's account.
      rec.add({ service: SERVICE, part: "account", outcome: "none", summary: t("aucun compte : les animateurs se connectent avec la connexion unique, Prosody ne garde rien d'eux", "no account: hosts sign in with the one login, Prosody keeps nothing of theirs"), count: 0 });
      return;
    }
    if (!domain) throw new Error("Jitsi is enabled but the desired state has no XMPP domain");
    const exists = (await listAccounts(ctx.target, domain)).includes(member);
    rec.add(
      exists
        ? { service: SERVICE, part: "account", outcome: "done", summary: t(`un compte d'animateur ${member}@${domain} existe (identifiant et empreinte du mot de passe)`, `a host account ${member}@${domain} exists (user name and password hash)`), count: 1, files: [ctx.folder.writeJson("jitsi/account.json", { account: `${member}@${domain}`, holds: ["user name", "password hash (not exported)"] })] }
        : { service: SERVICE, part: "account", outcome: "none", summary: t("aucun compte d'animateur", "no host account"), count: 0 },
    );
  });
  rec.note(SERVICE, t("Jitsi n'enregistre ni ne conserve les réunions.", "Jitsi neither records nor stores meetings."));
}

export async function eraseJitsi(ctx: EraseContext<JitsiClient>): Promise<void> {
  await part(ctx.rec, SERVICE, "account.delete", t("suppression du compte", "account deletion"), async () => {
    const provisioner = only(jitsiProvisioner, (c) => c.kind === "account.delete" && c.member === ctx.member);
    const result = await converge(provisioner, ctx.desired, ctx.target, { concurrency: ctx.concurrency, dryRun: !ctx.confirm });
    recordConverge(ctx.rec, SERVICE, "account.delete", result, ctx.confirm, t("aucun compte à supprimer", "no account to delete"));
  });
}
