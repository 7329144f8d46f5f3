// The welcome sheets without the identity provider: French by default, English for members who read English; each lists
// only the services deployed, the member's user names, how to get a first password, their
// calendars, rooms and devices, and never a secret. Hostile names are escaped, as a real
// browser (Chromium) proves by loading the page.
import test from "ava";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { desiredState, type DesiredState } from "../../provisioners/desired.ts";
import { sheetData, welcomeOptions, welcomeSheet, welcomeSheets, type WelcomeOptions } from "../../provisioners/welcome/sheet.ts";
import { peerKeyPair } from "../../provisioners/vpn/keys.ts";
import { privacyNoticeAddress } from "../../provisioners/welcome/contacts.ts";
import type { Association, Member } from "../../stacks/config/schema.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, run, scratch } from "../support/programs.ts";

/**
 * Today's sheet, each service with its own first password: the identity provider off. The
 * one-login sheet (the default) is tested at the end of this file.
 */
const withoutIdentity = (edit?: (input: Record<string, any>) => void): Association =>
  exampleAssociation((input) => {
    input.services.identity = { enabled: false };
    edit?.(input);
  });

const URLS = {
  nextcloud: "https://cloud.jardins-canal.localhost",
  element: "https://chat.jardins-canal.localhost",
  jitsi: "https://visio.jardins-canal.localhost",
  polls: "https://sondage.jardins-canal.localhost",
};

const member = (config: Association, id: string): Member => {
  const found = config.members.find((m) => m.id === id);
  if (!found) throw new Error(`no member ${id} in the test config`);
  return found;
};

async function sheetOf(id: string, edit?: (input: Record<string, any>) => void, options?: WelcomeOptions) {
  const config = withoutIdentity(edit);
  const desired = desiredState(config);
  return welcomeSheet(member(config, id), desired, options ?? welcomeOptions(config));
}

/** How every first password travels, word for word on each service's part of the sheet. */
const HANDED_FR = "en main propre ou par une messagerie chiffrée de bout en bout, jamais par e-mail ni sur cette fiche";
const HANDED_EN = "in person or over an end-to-end encrypted chat, never by e-mail nor on this sheet";

/** Both renderings, for checks that hold for each. */
const both = (sheet: { html: string; text: string }) => [sheet.html, sheet.text];

// --- content ------------------------------------------------------------------------------

test("a volunteer's sheet, in French: addresses, user names, first passwords, calendars, rooms; no account for Jitsi, no VPN", async (t) => {
  const sheet = await sheetOf("lea.moreau");
  t.is(sheet.language, "fr");
  for (const body of both(sheet)) {
    t.true(body.includes("Bienvenue, Léa Moreau"));
    t.true(body.includes("Les Jardins Partagés du Canal"));
    for (const url of Object.values(URLS)) t.true(body.includes(url), url);
    // Nextcloud: user name, the temporary password handed over by the admin, where to change it.
    t.regex(body, /Identifiant : (<code>)?lea\.moreau(<\/code>)?/);
    t.true(body.includes(`${URLS.nextcloud}/login`));
    t.true(body.includes(`mot de passe provisoire pour Nextcloud, ${HANDED_FR}`));
    t.true(body.includes("changez-le dès la première connexion : menu de votre avatar → Paramètres personnels → Sécurité"));
    // No e-mail can come (no SMTP): neither the address nor a "forgot password" path is promised.
    t.false(body.includes("lea.moreau@jardins-canal.localhost"));
    t.false(body.includes("oublié ?"));
    // Matrix: full id, its own temporary password handed over the same way, where to change it.
    t.true(body.includes("@lea.moreau:matrix.jardins-canal.localhost"));
    t.true(body.includes(`mot de passe provisoire pour Element, ${HANDED_FR}`));
    t.regex(body, /changez-le dès la première connexion : menu de votre avatar → Tous les paramètres → « Changer le mot de passe »/);
    t.is(body.split(HANDED_FR).length - 1, 2, "once per service with an account: Nextcloud and Element");
    t.true(body.includes("#association:matrix.jardins-canal.localhost"));
    t.true(body.includes("Équipe potager"));
    t.true(body.includes("#potager:matrix.jardins-canal.localhost"));
    t.false(body.includes("#bureau:"), "not in the bureau team");
    t.false(body.includes("#evenements:"));
    // Jitsi: joins as a guest, has no account.
    t.true(body.includes("Vous n'avez pas besoin de compte"));
    t.false(body.includes("lea.moreau@meet.jitsi"));
    t.false(body.includes("VPN"));
  }
  const { apps, ...nextcloud } = sheetData(member(withoutIdentity(), "lea.moreau"), desiredState(withoutIdentity()), welcomeOptions(withoutIdentity())).nextcloud || {};
  t.deepEqual(nextcloud, {
    url: URLS.nextcloud,
    loginUrl: `${URLS.nextcloud}/login`,
    username: "lea.moreau",
    twoFactor: false,
    calendars: [
      { name: "Équipe potager", readOnly: false },
      { name: "Les Jardins Partagés du Canal", readOnly: true },
    ],
    // Nextcloud 34's CalDAV root and principal (remote.php, apps/dav/lib/RootCollection.php).
    calendarSync: {
      base: `${URLS.nextcloud}/remote.php/dav`,
      principal: `${URLS.nextcloud}/remote.php/dav/principals/users/lea.moreau/`,
      davx5: [
        { platform: "Android (Google Play)", url: "https://play.google.com/store/apps/details?id=at.bitfire.davdroid" },
        { platform: "Android (F-Droid)", url: "https://f-droid.org/packages/at.bitfire.davdroid/" },
      ],
      oneLogin: false,
    },
  });
  t.deepEqual(apps?.map((a) => a.platform), ["Android (Google Play)", "Android (F-Droid)", "iPhone, iPad (App Store)", "Ordinateur (Windows, macOS, Linux)"]);
});

test("a member whose language is English gets the English sheet", async (t) => {
  const sheet = await sheetOf("tom.martin");
  t.is(sheet.language, "en");
  t.regex(sheet.html, /^<!DOCTYPE html>\n<html lang="en">/);
  for (const body of both(sheet)) {
    t.true(body.includes("Welcome, Tom Martin"));
    t.true(body.includes(`temporary password for Nextcloud ${HANDED_EN}`));
    t.true(body.includes("change it at your first sign-in: your avatar menu → Personal settings → Security"));
    t.true(body.includes(`temporary password for Element ${HANDED_EN}`));
    t.regex(body, /change it at your first sign-in: your avatar menu → All settings → ["“]Change password["”]/);
    t.is(body.split(HANDED_EN).length - 1, 2);
    t.false(body.includes("Forgot password?"));
    t.true(body.includes("@tom.martin:matrix.jardins-canal.localhost"));
    t.true(body.includes("#potager:matrix.jardins-canal.localhost"));
    t.true(body.includes("#evenements:matrix.jardins-canal.localhost"));
    t.true(body.includes("You need no account"));
    t.false(body.includes("Bienvenue"));
    t.false(body.includes("mot de passe"));
  }
});

test("a staff member's sheet lists the Jitsi account and the VPN devices, handed over separately", async (t) => {
  const sheet = await sheetOf("karim.benali");
  const data = sheetData(member(withoutIdentity(), "karim.benali"), desiredState(withoutIdentity()), welcomeOptions(withoutIdentity()));
  const { apps: jitsiApps, ...jitsi } = data.jitsi || {};
  t.deepEqual(jitsi, { url: URLS.jitsi, account: { username: "karim.benali", jid: "karim.benali@meet.jitsi" }, host: false });
  t.deepEqual(jitsiApps?.map((a) => a.platform), ["Android (Google Play)", "Android (F-Droid)", "iPhone, iPad (App Store)"], "on a computer, the browser");
  t.deepEqual(data.vpn, {
    tunnel: "jardins-canal",
    fileName: "jardins-canal.conf",
    devices: ["laptop", "phone"],
    apps: [{ platform: "Téléphone et ordinateur", url: "https://www.wireguard.com/install/" }],
    admin: false,
  });
  t.deepEqual(data.matrix && data.matrix.rooms, [
    { name: "Bureau", alias: "#bureau:matrix.jardins-canal.localhost" },
    { name: "Événements", alias: "#evenements:matrix.jardins-canal.localhost" },
  ]);
  t.deepEqual(data.nextcloud && data.nextcloud.calendars.map((c) => c.name), ["Bureau", "Événements", "Les Jardins Partagés du Canal"]);
  for (const body of both(sheet)) {
    t.regex(body, /Identifiant : (<code>)?karim\.benali(<\/code>)? \(forme complète : (<code>)?karim\.benali@meet\.jitsi/);
    // Jitsi: its own temporary password, handed over the same way; only the admin can change it.
    t.true(body.includes(`mot de passe provisoire pour Jitsi, ${HANDED_FR}`));
    t.true(body.includes("Vous ne pouvez pas le changer vous-même : si vous l'oubliez ou s'il a pu être vu, demandez-en un nouveau à l'administrateur ou l'administratrice"));
    t.is(body.split(HANDED_FR).length - 1, 3, "once per service: Nextcloud, Element, Jitsi");
    t.false(body.includes("Vous n'avez pas besoin de compte"));
    t.regex(body, /ACCÈS VPN|Accès VPN/);
    t.regex(body, /- laptop\n- phone|<li><code>laptop<\/code><\/li>\n  <li><code>phone<\/code><\/li>/);
    t.regex(body, /remet (À PART|<strong>à part<\/strong>) son profil/);
    t.true(body.includes("jardins-canal.conf"));
    t.true(body.includes("« jardins-canal »"));
  }
});

test("admins are told about Nextcloud's second factor when it is enforced, others never", async (t) => {
  const enforced = await sheetOf("claire.dubois");
  for (const body of both(enforced)) t.true(body.includes("application d'authentification (TOTP)"));
  const relaxed = await sheetOf("claire.dubois", (input) => {
    input.services.nextcloud = { adminTwoFactor: false };
  });
  for (const body of both(relaxed)) t.false(body.includes("TOTP"));
  for (const body of both(await sheetOf("karim.benali"))) t.false(body.includes("TOTP"));
});

test("the language: the member's, else the association's, unless the caller picks one", async (t) => {
  const englishAssociation = (input: Record<string, any>) => {
    input.organisation.language = "en";
  };
  t.is((await sheetOf("lea.moreau", englishAssociation)).language, "en");
  t.true((await sheetOf("lea.moreau", englishAssociation)).text.startsWith("Welcome, Léa Moreau"));
  t.is((await sheetOf("tom.martin", englishAssociation)).language, "en");
  t.is((await sheetOf("tom.martin", undefined, { language: "fr" })).language, "fr");
  t.true((await sheetOf("tom.martin", undefined, { language: "fr" })).text.startsWith("Bienvenue, Tom Martin"));
  const all = await welcomeSheets(withoutIdentity(), desiredState(withoutIdentity()));
  t.deepEqual(Object.fromEntries(Object.entries(all).map(([id, s]) => [id, s.language])), {
    "claire.dubois": "fr",
    "karim.benali": "fr",
    "lea.moreau": "fr",
    "tom.martin": "en",
  });
});

test("only the services deployed are listed, in every combination", async (t) => {
  for (let mask = 0; mask < 16; mask++) {
    const on = { nextcloud: !!(mask & 1), matrix: !!(mask & 2), jitsi: !!(mask & 4), polls: !!(mask & 8) };
    const edit = (input: Record<string, any>) => {
      input.services.nextcloud = { ...input.services.nextcloud, enabled: on.nextcloud };
      input.services.matrix = { ...input.services.matrix, enabled: on.matrix };
      input.services.jitsi = { enabled: on.jitsi };
      input.services.polls = { enabled: on.polls };
    };
    for (const id of ["karim.benali", "lea.moreau"]) {
      for (const language of ["fr", "en"] as const) {
        const config = withoutIdentity(edit);
        const sheet = await welcomeSheet(member(config, id), desiredState(config), { ...welcomeOptions(config), language });
        for (const body of both(sheet)) {
          const label = `${id} ${language} ${JSON.stringify(on)}`;
          t.is(body.includes(URLS.nextcloud), on.nextcloud, `${label}: Nextcloud`);
          t.is(body.includes(URLS.element), on.matrix, `${label}: Element`);
          t.is(body.includes(":matrix.jardins-canal.localhost"), on.matrix, `${label}: Matrix ids`);
          t.is(body.includes(URLS.jitsi), on.jitsi, `${label}: Jitsi`);
          t.is(body.includes(URLS.polls), on.polls, `${label}: polls`);
          t.is(body.includes("Nextcloud"), on.nextcloud, `${label}: no Nextcloud text when it is off`);
          t.is(body.includes("Jitsi"), on.jitsi, `${label}: no Jitsi text when it is off`);
        }
      }
    }
  }
});

test("without guests in Jitsi, members without an account are not sent there; staff still are", async (t) => {
  const noGuests = (input: Record<string, any>) => {
    input.services.jitsi = { guests: { allowed: false } };
  };
  for (const body of both(await sheetOf("lea.moreau", noGuests))) t.false(body.includes(URLS.jitsi));
  for (const body of both(await sheetOf("karim.benali", noGuests))) t.true(body.includes(URLS.jitsi));
  // Unknown guest setting (the desired state alone): not listed rather than wrongly promised.
  const config = withoutIdentity();
  t.false((await welcomeSheet(member(config, "lea.moreau"), desiredState(config))).text.includes(URLS.jitsi));
});

test("without the VPN, no device section", async (t) => {
  const sheet = await sheetOf("karim.benali", (input) => {
    input.services.vpn = { enabled: false };
    for (const m of input.members) delete m.devices;
  });
  for (const body of both(sheet)) t.false(body.includes("WireGuard"));
});

test("a member missing from the desired state is an error naming them", async (t) => {
  const config = withoutIdentity();
  const desired = desiredState(config);
  const stranger: Member = { ...member(config, "lea.moreau"), id: "inconnu.e" };
  await t.throwsAsync(() => welcomeSheet(stranger, desired, welcomeOptions(config)), { message: /member inconnu\.e has no Nextcloud account/ });
});

// --- no secrets ---------------------------------------------------------------------------

test("no password, key or seed ever appears on a sheet", async (t) => {
  const config = withoutIdentity();
  const desired = desiredState(config);
  const seeds = (desired.vpn?.peers ?? []).map((p) => `fakePeerSeed-${p.id}`);
  const privateKeys = seeds.map((s) => peerKeyPair(s).privateKey);
  for (const [id, sheet] of Object.entries(await welcomeSheets(config, desired))) {
    for (const body of both(sheet)) {
      for (const secret of [...seeds, ...privateKeys]) t.false(body.includes(secret), id);
      t.notRegex(body, /[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=/, `${id}: nothing shaped like a WireGuard key`);
      t.notRegex(body, /PrivateKey|\[Interface\]/, `${id}: no profile`);
    }
  }
  // What a sheet is made from holds no secret field at all.
  const data = sheetData(member(config, "karim.benali"), desired, welcomeOptions(config));
  t.notRegex(JSON.stringify(data), /password|secret|key"/i);
});

// --- escaping, checked by a browser -------------------------------------------------------

const PWNED = `document.body.setAttribute('data-pwned','1')`;
const HOSTILE = {
  organisation: `Les "Amis" & <b>Cie</b> <script>${PWNED}</script>`,
  member: `Zoé <img src=x onerror="${PWNED}"> O'Hara`,
  team: `<svg onload="${PWNED}">Équipe</svg>`,
  device: "laptop",
};

function hostileConfig(): Association {
  return withoutIdentity((input) => {
    input.organisation.name = HOSTILE.organisation;
    input.members[1].name = HOSTILE.member;
    input.teams[0].name = HOSTILE.team;
  });
}

/** The page as Chromium builds it, scripts run, serialised back. */
function browserDom(html: string): string {
  const chromium = requireProgram("chromium", "chromium");
  const dir = scratch({ "sheet.html": html });
  try {
    const result = run(chromium, [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run",
      `--user-data-dir=${join(dir, "profile")}`, "--dump-dom", `file://${join(dir, "sheet.html")}`,
    ]);
    if (result.status !== 0 || !result.stdout.includes("</html>")) throw new Error(`chromium could not load the sheet: ${result.stderr.trim()}`);
    return result.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const escapeHtml = (text: string) => Handlebars.escapeExpression(text);

test("hostile names are shown as text: the browser builds no element from them and runs nothing", async (t) => {
  const config = hostileConfig();
  const desired = desiredState(config);
  const sheet = await welcomeSheet(member(config, "karim.benali"), desired, welcomeOptions(config));
  for (const raw of [HOSTILE.organisation, HOSTILE.member, HOSTILE.team]) {
    t.false(sheet.html.includes(raw));
    t.true(sheet.html.includes(escapeHtml(raw)), raw);
  }
  const dom = browserDom(sheet.html);
  t.false(dom.includes('data-pwned="1"'), "no injected script or handler ran");
  // The QR codes of the addresses are the only drawings, each alone in its cell, made from
  // addresses (never from a name); everything else must hold no element a name could make.
  const codes = dom.match(/<td class="qr">\s*<svg[\s\S]*?<\/svg>\s*<\/td>/g) ?? [];
  t.is(codes.length, 5, "Nextcloud, Element, Jitsi, polls and the calendar address, and nothing else drawn");
  const withoutCodes = codes.reduce((page, code) => page.replace(code, '<td class="qr"></td>'), dom);
  t.notRegex(withoutCodes, /<(script|img|b|svg)\b/i, "no element came from a name");
  t.true(dom.includes(`<title>Bienvenue, Zoé &lt;img src=x onerror="${PWNED}"&gt; O'Hara – Les "Amis" &amp; &lt;b&gt;Cie&lt;/b&gt;`));
  t.regex(dom, /<h1>Bienvenue, Zoé &lt;img src=x onerror=.*&gt; O'Hara<\/h1>/);
  // The plain-text sheet is not HTML: names stay as written.
  t.true(sheet.text.includes(`Bienvenue, ${HOSTILE.member}`));
  t.true(sheet.text.includes(HOSTILE.team));
});

test("the browser check is not vacuous: the same page rendered without escaping runs the injected code", async (t) => {
  const config = hostileConfig();
  const data = sheetData(member(config, "karim.benali"), desiredState(config), welcomeOptions(config));
  const templates = new URL("../../templates/welcome/", import.meta.url);
  const unsafe = Handlebars.create();
  unsafe.registerPartial("style", readFileSync(new URL("style.hbs", templates), "utf8"));
  const noCodes = { identity: "", nextcloud: "", calendar: "", element: "", jitsi: "", polls: "" };
  const body = unsafe.compile(readFileSync(new URL("body.fr.html.hbs", templates), "utf8"), { noEscape: true })({ ...data, qr: noCodes });
  const html = unsafe.compile(readFileSync(new URL("sheet.fr.html.hbs", templates), "utf8"), { noEscape: true })({ ...data, body });
  t.true(browserDom(html).includes('data-pwned="1"'));
});

test("a name cannot fake lines on the plain-text sheet", async (t) => {
  // The config now refuses line breaks in names (test/config/text-and-addresses.test.ts);
  // set past validation, so that the sheet is shown to hold on its own.
  const config = withoutIdentity();
  config.members[2]!.name = "Léa\nMot de passe : 1234";
  config.teams[1]!.name = "Potager\n- Faux agenda";
  const desired: DesiredState = desiredState(config);
  const text = (await welcomeSheet(member(config, "lea.moreau"), desired, welcomeOptions(config))).text;
  t.true(text.startsWith("Bienvenue, Léa Mot de passe : 1234\n"));
  t.false(text.includes("\n- Faux agenda"));
  t.true(text.includes("- Potager - Faux agenda\n"));
});

// --- the one login (the identity provider, on by default) ----------------------------------

const IDENTITY_URL = "https://connexion.jardins-canal.localhost";
const ACCOUNT_URL = `${IDENTITY_URL}/realms/bastide/account`;

async function oneLoginSheet(id: string, edit?: (input: Record<string, any>) => void, language?: "fr" | "en") {
  const config = exampleAssociation(edit);
  return welcomeSheet(member(config, id), desiredState(config), { ...welcomeOptions(config), ...(language ? { language } : {}) });
}

test("one login: the sheet names the identity host, the services it opens, one temporary password and the second factor", async (t) => {
  const sheet = await oneLoginSheet("lea.moreau");
  const data = sheetData(member(exampleAssociation(), "lea.moreau"), desiredState(exampleAssociation()), welcomeOptions(exampleAssociation()));
  t.deepEqual(data.identity, { url: IDENTITY_URL, accountUrl: ACCOUNT_URL, username: "lea.moreau", services: "Nextcloud et Element", byMail: false, twoFactor: true });
  for (const body of both(sheet)) {
    t.regex(body, /Votre compte \(une seule connexion pour tout\)/);
    t.true(body.includes(IDENTITY_URL));
    t.regex(body, /Identifiant : (<code>)?lea\.moreau(<\/code>)?/);
    t.true(body.includes("Ce compte unique ouvre Nextcloud et Element : quand ils vous demandent de vous connecter, choisissez la connexion de l'association"));
    // One temporary password for the member, not one per service.
    t.true(body.includes(`vous remet un seul mot de passe provisoire, ${HANDED_FR}`));
    t.is(body.split(HANDED_FR).length - 1, 1, "one hand-over in all");
    t.false(body.includes("mot de passe provisoire pour Nextcloud"));
    t.false(body.includes("mot de passe provisoire pour Element"));
    t.true(body.includes("vous choisissez alors votre propre mot de passe, que personne d'autre ne voit"));
    // The second factor: required for volunteers by default, an authenticator app (the flow asks an OTP code).
    t.regex(body, /Second facteur \(obligatoire\)/);
    t.true(body.includes("application d'authentification, par exemple FreeOTP ou Aegis (gratuites)"));
    t.false(body.includes("passkey"), "the browser flow (provisioners/identity/flow.ts) asks an OTP code: a passkey is not offered in its place");
    t.true(body.includes("Téléphone perdu ou changé ? Demandez à l'administrateur ou l'administratrice de réinitialiser votre second facteur"));
    t.true(body.includes(ACCOUNT_URL));
    // Each service sends the member to the one login.
    t.true(body.includes(`${URLS.nextcloud}/login`));
    t.regex(body, /avec votre compte \(voir (VOTRE COMPTE|« Votre compte ») plus haut\) : votre compte Matrix existe déjà/);
  }
});

test("one login, in English", async (t) => {
  for (const body of both(await oneLoginSheet("tom.martin"))) {
    t.true(body.includes("This one account opens Nextcloud and Element: when they ask you to sign in, choose the association's login"));
    t.true(body.includes(`the administrator gives you one temporary password, ${HANDED_EN}`));
    t.is(body.split(HANDED_EN).length - 1, 1);
    t.regex(body, /Second factor \(required\)/);
    t.true(body.includes("Lost or changed your phone? Ask the administrator, who resets your second factor"));
    t.false(body.includes("temporary password for Nextcloud"));
    t.false(body.includes("temporary password for Element"));
  }
});

test("one login: staff open meetings with it, and no Jitsi password is handed over; volunteers join as guests", async (t) => {
  const config = exampleAssociation();
  const karim = sheetData(member(config, "karim.benali"), desiredState(config), welcomeOptions(config));
  const { apps: _karimApps, ...karimJitsi } = karim.jitsi || {};
  t.deepEqual(karimJitsi, { url: URLS.jitsi, account: false, host: true });
  t.is(karim.identity && karim.identity.services, "Nextcloud, Element et Jitsi Meet");
  for (const body of both(await oneLoginSheet("karim.benali"))) {
    t.true(body.includes("Pour ouvrir une réunion, connectez-vous quand Jitsi vous le demande : vous arrivez sur la page de votre connexion unique"));
    t.false(body.includes("mot de passe provisoire pour Jitsi"));
    t.is(body.split(HANDED_FR).length - 1, 1, "one password handed over: the one login's");
  }
  for (const body of both(await oneLoginSheet("karim.benali", undefined, "en"))) t.true(body.includes("To open a meeting, sign in when Jitsi asks: you land on your one login's page"));
  const lea = sheetData(member(config, "lea.moreau"), desiredState(config), welcomeOptions(config));
  const { apps: _leaApps, ...leaJitsi } = lea.jitsi || {};
  t.deepEqual(leaJitsi, { url: URLS.jitsi, account: false, host: false });
  for (const body of both(await oneLoginSheet("lea.moreau"))) t.true(body.includes("Vous n'avez pas besoin de compte : ouvrez le lien de réunion"));
});

test("one login: a role that may skip the second factor is advised to add one; the others still must", async (t) => {
  const relaxVolunteers = (input: Record<string, any>) => {
    input.services.identity = { twoFactor: { volunteer: { required: false, relaxedBecause: "Les bénévoles du jardin n'ont souvent pas de téléphone." } } };
  };
  for (const body of both(await oneLoginSheet("lea.moreau", relaxVolunteers))) {
    t.regex(body, /Second facteur \(recommandé\)/);
    t.false(body.includes("Second facteur (obligatoire)"));
    t.regex(body, /Sécurité du compte → Connexion/);
  }
  for (const body of both(await oneLoginSheet("karim.benali", relaxVolunteers))) t.regex(body, /Second facteur \(obligatoire\)/);
  for (const body of both(await oneLoginSheet("lea.moreau", relaxVolunteers, "en"))) t.regex(body, /Second factor \(recommended\):(<\/strong>)? add one on your account page/);
});

test("one login: with a mail relay, the member gets the link by e-mail and no password is handed over", async (t) => {
  const withMail = (input: Record<string, any>) => {
    input.mail = { host: "smtp.jardins-canal.localhost", from: "noreply@jardins-canal.localhost", username: "noreply" };
  };
  for (const body of both(await oneLoginSheet("lea.moreau", withMail))) {
    t.true(body.includes(`vous recevez un e-mail de ${IDENTITY_URL} avec un lien pour choisir vous-même votre mot de passe`));
    t.false(body.includes(HANDED_FR));
    t.false(body.includes("mot de passe provisoire"));
  }
});

test("one login: admins are not sent to Nextcloud's own second factor, the identity provider asks for it", async (t) => {
  for (const body of both(await oneLoginSheet("claire.dubois"))) {
    t.false(body.includes("Nextcloud vous demande, à la première connexion"));
    t.regex(body, /Second facteur \(obligatoire\)/);
  }
});

test("one login: only the services deployed are said to open with it", async (t) => {
  const data = (edit: (input: Record<string, any>) => void) => {
    const config = exampleAssociation(edit);
    return sheetData(member(config, "lea.moreau"), desiredState(config), welcomeOptions(config)).identity;
  };
  t.like(data((i) => (i.services.nextcloud = { enabled: false })), { services: "Element" });
  t.like(data((i) => (i.services.matrix = { enabled: false })), { services: "Nextcloud" });
  const neither = await oneLoginSheet("lea.moreau", (i) => {
    i.services.nextcloud = { enabled: false };
    i.services.matrix = { enabled: false };
  });
  for (const body of both(neither)) {
    t.false(body.includes("Ce compte unique ouvre"));
    t.true(body.includes(IDENTITY_URL));
  }
});

test("one login: the identity provider off gives today's sheet, a password per service", async (t) => {
  const config = withoutIdentity();
  t.is(sheetData(member(config, "lea.moreau"), desiredState(config), welcomeOptions(config)).identity, false);
  for (const body of both(await welcomeSheet(member(config, "lea.moreau"), desiredState(config), welcomeOptions(config)))) {
    t.false(body.includes(IDENTITY_URL));
    t.true(body.includes("mot de passe provisoire pour Nextcloud"));
  }
});

test("one login: Chromium shows the section as written, with working links and nothing secret", async (t) => {
  const config = exampleAssociation();
  const sheet = await welcomeSheet(member(config, "tom.martin"), desiredState(config), welcomeOptions(config));
  const dom = browserDom(sheet.html);
  t.true(dom.includes("<h2>Your account: one login</h2>"));
  t.true(dom.includes(`<a href="${IDENTITY_URL}">${IDENTITY_URL}</a>`));
  t.true(dom.includes(`<a href="${ACCOUNT_URL}">${ACCOUNT_URL}</a>`));
  t.notRegex(JSON.stringify(sheetData(member(config, "tom.martin"), desiredState(config), welcomeOptions(config))), /password|secret|key"/i);
});

// --- who to ask, apps, calendars, VPN -------------------------------------------------------

test("who to ask: the admins by name and e-mail, the association, the DPO, and the privacy notice; only with the file's contacts", async (t) => {
  for (const body of both(await sheetOf("lea.moreau"))) {
    t.true(body.includes("Claire Dubois"));
    t.true(body.includes("claire.dubois@jardins-canal.localhost"), "the admin's e-mail, from the member list");
    t.true(body.includes("contact@jardins-canal.localhost"));
    t.true(body.includes("dpo@jardins-canal.localhost"));
    t.true(body.includes("https://cloud.jardins-canal.localhost/confidentialite/membres.html"));
  }
  for (const body of both(await sheetOf("tom.martin"))) t.true(body.includes("https://cloud.jardins-canal.localhost/privacy/members.html"), "in the member's language");
  const config = withoutIdentity();
  for (const body of both(await welcomeSheet(member(config, "lea.moreau"), desiredState(config)))) t.false(body.includes("dpo@jardins-canal.localhost"), "no contacts given, none shown");
});

test("the privacy notice is on the first web service deployed, and absent when none is", (t) => {
  t.is(privacyNoticeAddress(exampleAssociation(), "fr"), "https://cloud.jardins-canal.localhost/confidentialite/membres.html");
  const noCloud = exampleAssociation((input) => {
    input.services.nextcloud = { enabled: false };
  });
  t.is(privacyNoticeAddress(noCloud, "en"), "https://chat.jardins-canal.localhost/privacy/members.html");
  const none = withoutIdentity((input) => {
    for (const service of ["nextcloud", "matrix", "jitsi", "polls"]) input.services[service] = { enabled: false };
  });
  t.is(privacyNoticeAddress(none, "fr"), undefined);
  t.is(welcomeOptions(none).contacts?.privacyNotice, false);
});

test("the calendar address, the apps, and rooms already joined are on the sheet, in both languages", async (t) => {
  const fr = await sheetOf("lea.moreau");
  const en = await sheetOf("tom.martin");
  for (const [sheet, id] of [[fr, "lea.moreau"], [en, "tom.martin"]] as const) {
    // Handlebars escapes "=" in the page (&#x3D;), which the browser reads back as "=".
    for (const [body, shown] of [[sheet.html, escapeHtml], [sheet.text, (x: string) => x]] as const) {
      t.true(body.includes(`${URLS.nextcloud}/remote.php/dav/principals/users/${id}/`));
      t.true(body.includes("https://f-droid.org/packages/at.bitfire.davdroid/"));
      t.true(body.includes(shown("https://play.google.com/store/apps/details?id=im.vector.app")));
      t.true(body.includes("https://matrix.jardins-canal.localhost"), "the server the Element apps ask for");
    }
  }
  t.true(fr.text.includes("Vous êtes déjà dans l'espace de l'association et dans les salons de vos équipes"));
  t.true(en.text.includes("You are already in the association's space and in your team rooms"));
  t.regex(fr.html, /<td class="qr"><svg /, "a QR code a phone can read");
  t.false(fr.text.includes("<svg"), "no drawing in the plain text");
});

test("with the one login, calendar apps are told to use a Nextcloud app password", async (t) => {
  for (const body of both(await oneLoginSheet("lea.moreau"))) t.true(body.includes("pas celui de votre compte, mais un mot de passe d'application"));
  for (const body of both(await sheetOf("lea.moreau"))) t.true(body.includes("de préférence un mot de passe d'application"));
});

test("the VPN says what it is for: admins need it for the admin pages, staff only for an admin task", async (t) => {
  const admin = await sheetOf("claire.dubois");
  const staff = await sheetOf("karim.benali");
  for (const body of [...both(admin), ...both(staff)]) t.true(body.includes("Vous n'en avez pas besoin pour vos fichiers, vos agendas, la discussion, les visioconférences ni les sondages"));
  for (const body of both(admin)) t.true(body.includes("dont vous avez besoin pour administrer les services"));
  for (const body of both(staff)) t.true(body.includes("si l'association vous confie une tâche d'administration"));
  for (const body of both(await sheetOf("lea.moreau"))) t.false(body.includes("VPN"), "a volunteer has no device, no VPN section");
});
