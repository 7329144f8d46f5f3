// The polls' part of a request. Framadate has no accounts: a poll keeps its creator's
// name and e-mail (fd_poll.admin_name, admin_mail), a vote its voter's name (fd_vote.name),
// a comment its author's name (fd_comment.name) (Framadate 1.1's repositories). The member
// is found by their exact full name (MariaDB's collation ignores case and accents) or
// e-mail; someone who typed another form of their name cannot be found automatically.
//
// SQL runs with the mariadb client inside the database container, as Framadate's own
// user. Its password is already in that container's environment (MARIADB_PASSWORD, set
// by the polls blueprint): the shell there hands it to the client as MYSQL_PWD, so it is
// on no command line and never passes through Bastide. Values go in as hex literals,
// which no name can break out of.
//
// Erasure keeps what is anonymous and counts for others: votes stay, under an anonymous
// name, so results do not change; comments (free text, theirs) are deleted; polls they
// created stay for the people who answered, without their name and e-mail, until the
// daily purge deletes them.
import { part, type EraseContext, type ExportContext } from "./context.ts";
import { t, type DsrFile } from "./model.ts";
import type { Commands } from "./targets.ts";

const SERVICE = "polls" as const;

/** Framadate's table prefix, as the polls blueprint configures it. */
export const TABLE_PREFIX = "fd_";
const table = (name: string) => `\`${TABLE_PREFIX}${name}\``;

/** The mariadb client as Framadate's user, SQL on standard input, tab-separated output. */
export const MARIADB_CLIENT = [
  "sh",
  "-c",
  'MYSQL_PWD="$MARIADB_PASSWORD" exec mariadb --batch --default-character-set=utf8mb4 --user="$MARIADB_USER" --database="$MARIADB_DATABASE"',
] as const;

/** Columns that are credentials of a poll or a vote (edit links, password hash): never exported. */
export const CREDENTIAL_COLUMNS = new Set(["admin_id", "password_hash", "uniqId"]);

/** A SQL string literal no value can escape from. */
export const sqlString = (value: string) => `_utf8mb4 X'${Buffer.from(value, "utf8").toString("hex")}'`;

type Row = Record<string, string | null>;

const BATCH_ESCAPES: Record<string, string> = { n: "\n", t: "\t", "\\": "\\", "0": "\0" };

/** mariadb --batch: a header line, then tab-separated rows; \n \t \\ \0 escaped; NULL for null. */
export function parseBatch(output: string): Row[] {
  const lines = output.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const [header, ...rows] = lines;
  if (!header) return [];
  const columns = header.split("\t");
  return rows.map((line) => {
    const values = line.split("\t");
    return Object.fromEntries(columns.map((c, i) => [c, values[i] === "NULL" ? null : (values[i] ?? "").replace(/\\(.)/g, (_, c: string) => BATCH_ESCAPES[c] ?? c)]));
  });
}

const withoutCredentials = (row: Row): Row => Object.fromEntries(Object.entries(row).filter(([key]) => !CREDENTIAL_COLUMNS.has(key)));

async function sql(db: Commands, statements: string): Promise<Row[]> {
  const result = await db.run(MARIADB_CLIENT, statements);
  if (result.exitCode !== 0) throw new Error(`mariadb in ${db.where}: exit ${result.exitCode}: ${result.stderr.trim().slice(0, 300)}`);
  return parseBatch(result.stdout);
}

export interface PollsMatch {
  polls: Row[];
  votes: Row[];
  comments: Row[];
}

/** Conditions for the member, or undefined when nothing identifies them. */
function conditions(identity: { name?: string; email?: string }) {
  const name = identity.name?.trim() || undefined;
  const email = identity.email?.trim() || undefined;
  const creator = [email && `p.admin_mail = ${sqlString(email)}`, name && `p.admin_name = ${sqlString(name)}`].filter(Boolean).join(" OR ");
  return { name, creator: creator || undefined };
}

export async function findInPolls(db: Commands, identity: { name?: string; email?: string }): Promise<PollsMatch> {
  const { name, creator } = conditions(identity);
  const polls = creator ? await sql(db, `SELECT p.* FROM ${table("poll")} p WHERE ${creator} ORDER BY p.id;`) : [];
  const votes = name
    ? await sql(db, `SELECT v.*, p.title AS poll_title FROM ${table("vote")} v JOIN ${table("poll")} p ON p.id = v.poll_id WHERE v.name = ${sqlString(name)} ORDER BY v.id;`)
    : [];
  const comments = name
    ? await sql(db, `SELECT c.*, p.title AS poll_title FROM ${table("comment")} c JOIN ${table("poll")} p ON p.id = c.poll_id WHERE c.name = ${sqlString(name)} ORDER BY c.id;`)
    : [];
  return { polls, votes, comments };
}

const NO_IDENTITY = t("non lu : ni nom ni adresse e-mail connus pour ce membre (options --name, --email)", "not read: neither a name nor an e-mail address is known for this member (options --name, --email)");

const MATCHING = t(
  "Le membre est retrouvé dans les sondages par son nom complet exact (sans tenir compte des majuscules ni des accents) ou son adresse e-mail : une participation sous une autre forme de nom (prénom seul, pseudonyme) ne peut pas être retrouvée automatiquement.",
  "The member is found in the polls by their exact full name (ignoring case and accents) or e-mail address: an answer under another form of their name (first name only, a nickname) cannot be found automatically.",
);

export async function exportPolls(ctx: ExportContext<{ db: Commands }>): Promise<void> {
  const { rec, folder } = ctx;
  await part(rec, SERVICE, "polls", t("sondages, votes et commentaires", "polls, votes and comments"), async () => {
    if (!ctx.identity.name && !ctx.identity.email) return void rec.add({ service: SERVICE, part: "polls", outcome: "skipped", summary: NO_IDENTITY });
    const found = await findInPolls(ctx.target.db, ctx.identity);
    const pollIds = [...new Set([...found.polls.map((p) => p.id), ...found.votes.map((v) => v.poll_id), ...found.comments.map((c) => c.poll_id)])].filter((id): id is string => !!id);
    // The choices of each poll concerned, so that the votes can be read.
    const slots = pollIds.length ? await sql(ctx.target.db, `SELECT s.* FROM ${table("slot")} s WHERE s.poll_id IN (${pollIds.map(sqlString).join(", ")}) ORDER BY s.poll_id, s.id;`) : [];
    const files: DsrFile[] = [];
    const write = (name: string, rows: Row[]) => rows.length && files.push(folder.writeJson(`polls/${name}.json`, rows.map(withoutCredentials)));
    write("polls-created", found.polls);
    write("votes", found.votes);
    write("comments", found.comments);
    write("choices-of-these-polls", slots);
    const total = found.polls.length + found.votes.length + found.comments.length;
    rec.add({
      service: SERVICE,
      part: "polls",
      outcome: total ? "done" : "none",
      summary: t(`${found.polls.length} sondage(s) créé(s), ${found.votes.length} vote(s), ${found.comments.length} commentaire(s)`, `${found.polls.length} poll(s) created, ${found.votes.length} vote(s), ${found.comments.length} comment(s)`),
      count: total,
      files,
    });
  });
  rec.note(SERVICE, MATCHING);
}

export async function erasePolls(ctx: EraseContext<{ db: Commands }>): Promise<void> {
  const { rec } = ctx;
  const anonymous = ctx.config.organisation.language === "fr" ? "Anonyme" : "Anonymous";
  await part(rec, SERVICE, "polls", t("sondages, votes et commentaires", "polls, votes and comments"), async () => {
    if (!ctx.identity.name && !ctx.identity.email) return void rec.add({ service: SERVICE, part: "polls", outcome: "skipped", summary: NO_IDENTITY });
    const found = await findInPolls(ctx.target.db, ctx.identity);
    const counts = { polls: found.polls.length, votes: found.votes.length, comments: found.comments.length };
    const summary = t(
      `${counts.votes} vote(s) rendu(s) anonyme(s), ${counts.comments} commentaire(s) supprimé(s), ${counts.polls} sondage(s) sans le nom ni l'adresse du créateur`,
      `${counts.votes} vote(s) made anonymous, ${counts.comments} comment(s) deleted, ${counts.polls} poll(s) without their creator's name and address`,
    );
    const total = counts.polls + counts.votes + counts.comments;
    if (total === 0) return void rec.add({ service: SERVICE, part: "polls", outcome: "none", summary: t("rien trouvé", "nothing found"), count: 0 });
    if (!ctx.confirm) return void rec.add({ service: SERVICE, part: "polls", outcome: "planned", summary: t(`à faire : ${summary.fr}`, `to do: ${summary.en}`), count: total });
    const { name, creator } = conditions(ctx.identity);
    const label = sqlString(anonymous);
    await sql(ctx.target.db, [
      "START TRANSACTION;",
      ...(name ? [`UPDATE ${table("vote")} SET name = CONCAT(${label}, ' ', id) WHERE name = ${sqlString(name)};`, `DELETE FROM ${table("comment")} WHERE name = ${sqlString(name)};`] : []),
      ...(creator ? [`UPDATE ${table("poll")} p SET p.admin_name = ${label}, p.admin_mail = '' WHERE ${creator};`] : []),
      "COMMIT;",
    ].join("\n"));
    rec.add({ service: SERVICE, part: "polls", outcome: "done", summary, count: total });
  });
  rec.note(SERVICE, MATCHING);
  rec.note(SERVICE, t(
    "Les votes restent comptés sous un nom anonyme et les sondages créés par le membre restent pour les autres participants jusqu'à leur purge. Le titre ou la description d'un sondage peuvent nommer quelqu'un : à revoir à la main.",
    "Votes still count, under an anonymous name, and polls the member created stay for the other participants until they are purged. A poll's title or description may name someone: review them by hand.",
  ));
}
