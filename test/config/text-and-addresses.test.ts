// Issue 9, items 7, 8 and 11: domains, URLs, free text, reasons and e-mail addresses.
import test from "ava";
import { shown } from "../../stacks/config/fields.ts";
import { problemsOf, refusedAt, validated, type Input } from "./support.ts";

const service = (input: Input, name: string, fields: Input) => {
  input.services[name] = { ...input.services[name], ...fields };
};

// Item 7: domains
const BAD_DOMAINS: [string, string, string][] = [
  ["an IPv4 literal", "127.0.0.1", "reads as an IP address"],
  ["a hexadecimal IPv4 literal", "0x7f.0.0.1", "reads as an IP address"],
  ["a numeric top-level label", "asso-exemple.42", "its last label must not be a number"],
  ["an IPv6 literal", "[::1]", "is not a domain name"],
  ["a name of 252 characters", `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(58)}.fr`, "is too long"],
];
for (const [what, domain, says] of BAD_DOMAINS) {
  test(`domain: refuses ${what}, showing it`, (t) => {
    refusedAt(t, (i) => (i.domain = domain), "domain", says, shown(domain.toLowerCase()));
  });
}

test("domain: refuses one that is too long once a service's label is put in front (sondage.)", (t) => {
  // 245 characters: fits alone, but sondage.<domain> is 253 + 1 = 254, past DNS's 253.
  const domain = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(51)}.fr`;
  t.is(`sondage.${domain}`.length, 254);
  // Without the identity provider, whose connexion. is the longest label (next test).
  refusedAt(t, (i) => ((i.domain = domain), service(i, "identity", { enabled: false })), "domain", "sondage.", "253", "shorter domain");
});

test("domain: the identity provider's label counts too (connexion.)", (t) => {
  // 244 characters: sondage.<domain> fits in 253, connexion.<domain> is 254.
  const domain = `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(49)}.fr`;
  t.is(`sondage.${domain}`.length, 252);
  t.is(`connexion.${domain}`.length, 254);
  refusedAt(t, (i) => (i.domain = domain), "domain", "connexion.", "253", "shorter domain");
  // Without it, the domain itself is fine (its Matrix ids are another matter, reported at the members).
  t.deepEqual(problemsOf((i) => ((i.domain = domain), service(i, "identity", { enabled: false }))).filter((p) => p.path === "domain"), []);
});

test("domain: a real one with digits inside is accepted", (t) => {
  t.is(validated((i) => (i.domain = "asso-2024.example.fr")).domain, "asso-2024.example.fr");
});

// Item 7: URLs
const BAD_URLS: [string, string, string][] = [
  ["javascript:", "javascript:alert(document.cookie)", "uses javascript:, not https:"],
  ["file:", "file:///etc/passwd", "uses file:, not https:"],
  ["http:", "http://numeros.example.org/", "uses http:, not https:"],
  ["credentials", "https://admin:secret@numeros.example.org/", "user name or password"],
  ["an IP address", "https://192.0.2.10/numeros", "does not point at a domain name"],
  ["spaces", "https://numeros.example.org/ma page", "contains spaces"],
];
for (const [what, url, says] of BAD_URLS) {
  test(`dialIn.numbersUrl: refuses ${what}, showing it`, (t) => {
    refusedAt(
      t,
      (i) => service(i, "jitsi", { dialIn: { enabled: true, numbersUrl: url } }),
      "services.jitsi.dialIn.numbersUrl",
      says,
      shown(url),
      "use the https:// address",
    );
  });
}

test("dialIn.numbersUrl: an https page is accepted", (t) => {
  const config = validated((i) => service(i, "jitsi", { dialIn: { enabled: true, numbersUrl: "https://numeros.example.org/fr" } }));
  t.is(config.services.jitsi.dialIn.numbersUrl, "https://numeros.example.org/fr");
});

// Item 8: text
test("text: a 1 MB postal address is refused at once, shown cut short", (t) => {
  const huge = "12 quai de Jemmapes ".repeat(52_429);
  const started = performance.now();
  const problem = refusedAt(t, (i) => (i.organisation.address = huge), "organisation.address", "is too long: at most 300 characters");
  t.true(performance.now() - started < 5_000, "validation stays fast");
  t.true(problem!.message.length < 300, `the message does not repeat the megabyte: ${problem?.message.length} characters`);
  t.true(problem!.message.includes(`(${huge.trim().length} characters)`));
});

const CONTROL: [string, string, (i: Input, v: string) => void, string][] = [
  ["a NUL in the organisation's name", "Jardins\u0000Canal", (i, v) => (i.organisation.name = v), "organisation.name"],
  ["an escape sequence in a member's name", "Claire \u001b[31mDubois", (i, v) => (i.members[0].name = v), "members[0].name"],
  ["a line break in a team's name", "Bureau\nsecret", (i, v) => (i.teams[0].name = v), "teams[0].name"],
  ["a bidirectional override in the DPO's name", "Claire \u202eDubois", (i, v) => (i.organisation.dpo.name = v), "organisation.dpo.name"],
  ["a NUL in the postal address", "12 quai\u0000 de Jemmapes", (i, v) => (i.organisation.address = v), "organisation.address"],
];
for (const [what, value, edit, path] of CONTROL) {
  test(`text: refuses ${what}, escaped in the message`, (t) => {
    const problem = refusedAt(t, (i) => edit(i, value), path, "invisible control character", "retype the value without it");
    t.false(/[\u0000-\u001f\u202e]/.test(problem?.message ?? ""), `the message itself carries no control character: ${JSON.stringify(problem?.message)}`);
  });
}

test("text: a postal address on two lines is accepted", (t) => {
  t.is(validated((i) => (i.organisation.address = "12 quai de Jemmapes\n75010 Paris")).organisation.address, "12 quai de Jemmapes\n75010 Paris");
});

// Item 8: hollow reasons
const HOLLOW = ["..........", "aaaaaaaaaaaa", "TODO TODO TODO", "xxxxxxxxxx xxxxxxxxxx", "test test test test"];
for (const reason of HOLLOW) {
  test(`reasons: ${JSON.stringify(reason)} is refused for federation, recording and share links`, (t) => {
    const fix = "write a sentence of at least 3 words";
    refusedAt(t, (i) => service(i, "matrix", { federation: { enabled: true, reason } }), "services.matrix.federation.reason", fix, shown(reason));
    refusedAt(t, (i) => service(i, "jitsi", { recording: { enabled: true, consentText: reason } }), "services.jitsi.recording.consentText", fix);
    refusedAt(
      t,
      (i) => service(i, "nextcloud", { shareLinks: { requirePassword: false, relaxedBecause: reason } }),
      "services.nextcloud.shareLinks.relaxedBecause",
      fix,
    );
  });
}

test("reasons: a real sentence, accented, is accepted", (t) => {
  const reason = "Nos bénévoles échangent avec la fédération régionale.";
  t.is(validated((i) => service(i, "matrix", { federation: { enabled: true, reason } })).services.matrix.federation.reason, reason);
});

test("reasons: a reason pasted at 1 MB is refused", (t) => {
  refusedAt(t, (i) => service(i, "matrix", { federation: { enabled: true, reason: "parce que nous le voulons ".repeat(40_000) } }), "services.matrix.federation.reason", "at most 1000 characters");
});

// Item 11: international e-mail addresses
test("e-mail: accented local parts are accepted for members, the contact and the DPO", (t) => {
  const config = validated((i) => {
    i.members[0].email = "émilie.martin@jardins-canal.localhost";
    i.members[1].email = "françois.lefèvre@jardins-canal.localhost";
    i.organisation.contact = "secrétariat@jardins-canal.localhost";
    i.organisation.dpo.email = "délégué.données@jardins-canal.localhost";
  });
  t.is(config.members[0]!.email, "émilie.martin@jardins-canal.localhost");
  t.is(config.organisation.dpo.email, "délégué.données@jardins-canal.localhost");
});

test("e-mail: the same address in two Unicode spellings or cases is one address", (t) => {
  // "é" precomposed (U+00E9) and decomposed (e + U+0301) are one address once normalised.
  refusedAt(
    t,
    (i) => {
      i.members[0].email = "\u00e9milie@jardins-canal.localhost";
      i.members[1].email = "E\u0301MILIE@jardins-canal.localhost";
    },
    "members[1].email",
    "already used by another member",
  );
});

const BAD_EMAILS: [string, string, string][] = [
  ["a space", "émilie martin@jardins-canal.localhost", "no spaces"],
  ["two dots in a row", "emilie..martin@jardins-canal.localhost", "twice before @"],
  ["a non-ASCII domain", "emilie@jardins-canal-é.fr", "ASCII form (xn--...)"],
  ["no domain", "emilie@", "must be an e-mail address such as"],
  ["a NUL", "emilie\u0000@jardins-canal.localhost", "control characters"],
  ["a local part of 65 bytes", `${"é".repeat(33)}@jardins-canal.localhost`, "longer than 64 bytes"],
];
for (const [what, address, says] of BAD_EMAILS) {
  test(`e-mail: refuses ${what}, showing the value`, (t) => {
    refusedAt(t, (i) => (i.members[2].email = address), "members[2].email", says, shown(address).slice(0, 20));
  });
}
