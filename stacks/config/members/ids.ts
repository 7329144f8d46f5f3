// Member and team ids folded from the names a spreadsheet holds. An id becomes a Nextcloud
// user or group, a Matrix localpart or room alias, a Prosody account, a calendar URI and a
// WireGuard peer name, so it is kept to the alphabet every one of them accepts (fields.ts
// `identifier`), never one of the names a service already owns (names.ts), and unique as the
// services compare names (names.ts `normalName`).
//
// Letters of any script become ASCII through any-ascii (anyascii/anyascii, one table per
// Unicode block: é→e, ø→o, æ→ae, ß→ss, ễ→e, ł→l, þ→th, Cyrillic, Greek, CJK...).
import anyAscii from "any-ascii";
import { identifier } from "../fields.ts";
import { normalName, reservedMemberId, reservedTeamId } from "../names.ts";

/** fields.ts `identifier`: 2-32 characters. */
const MAX_ID = 32;
const MIN_ID = 2;

/** Apostrophes as people type them: ASCII, typographic, modifier letters, the ʿayn of transliterated Arabic. */
const APOSTROPHES = /['’‘ʼʻʿʾ`´]/gu;

/**
 * Nobiliary and family particles: written in lower case ("Charles de Gaulle", "Ludwig van
 * Beethoven", "Éloïse d'Arçon") they are not part of the name a person is sorted and called by,
 * so the id leaves them out; written with a capital ("Jean De Smet", "Le Goff") they are kept.
 */
const PARTICLES = new Set(["d", "de", "du", "des", "del", "dell", "della", "der", "den", "di", "da", "das", "do", "dos", "la", "le", "les", "van", "von", "zu", "ten", "ter", "af", "av", "y", "e", "al", "el", "bin", "ibn"]);

/** ASCII lower case, apostrophes dropped (O'Brien → obrien), every other run of non-alphanumerics one hyphen. */
export function foldWord(text: string): string {
  return anyAscii(text.normalize("NFC").replace(APOSTROPHES, ""))
    .toLowerCase()
    .replace(APOSTROPHES, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** A word of a surname, with a lower-case particle glued by an apostrophe (d'Arçon, dell'Acqua) taken off. */
function surnameParts(word: string): string[] {
  const glued = /^(\p{Ll}{1,4})['’ʼ](.+)$/u.exec(word);
  if (glued && PARTICLES.has(foldWord(glued[1]!))) return [glued[2]!];
  return [word];
}

const isParticle = (word: string) => word === word.toLowerCase() && PARTICLES.has(foldWord(word));

/** A word written all in capitals, as French lists write surnames ("DUPONT Marie"). */
const isCapitalised = (word: string) => /\p{Lu}.*\p{Lu}/u.test(word) && word === word.toUpperCase() && word !== word.toLowerCase();

/** The given names and the surname of a full name written in one cell. */
export function splitFullName(name: string): { given: string; surname: string } {
  const words = name.trim().split(/\s+/u).filter(Boolean);
  const capitals = words.filter(isCapitalised);
  if (capitals.length > 0 && capitals.length < words.length)
    return { given: words.filter((w) => !isCapitalised(w)).join(" "), surname: capitals.join(" ") };
  return { given: words[0] ?? "", surname: words.slice(1).join(" ") };
}

/** A surname without its lower-case particles, unless they are all there is ("de" alone stays). */
function foldSurname(surname: string): string {
  const words = surname.trim().split(/\s+/u).filter(Boolean).flatMap(surnameParts);
  const kept = words.filter((w, i) => !(isParticle(w) && i < words.length - 1));
  return kept.map(foldWord).filter(Boolean).join("-");
}

/** Cut to `max` characters at a hyphen or dot if there is one, never leaving a separator at the end. */
function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const head = text.slice(0, max);
  const boundary = Math.max(head.lastIndexOf("-"), head.lastIndexOf("."));
  return (boundary >= MIN_ID ? head.slice(0, boundary) : head).replace(/[-._]+$/, "");
}

const usable = (id: string) => identifier.safeParse(id).success;

/**
 * The id a person's name folds to, before uniqueness: `given.surname` (claire.dubois),
 * `c.surname` when that is too long, the surname cut at a hyphen when even that is. A name
 * that folds to nothing usable (emoji, one letter) falls back to the e-mail's local part,
 * then to `fallback`.
 */
export function memberIdBase(person: { given: string; surname: string }, email: string, fallback: string): string {
  const given = foldWord(person.given.replace(/\s+/gu, " "));
  const surname = foldSurname(person.surname);
  const candidates = [
    [given, surname].filter(Boolean).join("."),
    [given.slice(0, 1), surname].filter(Boolean).join("."),
    cut(surname, MAX_ID),
    foldWord(email.slice(0, Math.max(0, email.lastIndexOf("@")))),
  ];
  const found = candidates.find((c) => c.length <= MAX_ID && usable(c)) ?? candidates.map((c) => cut(c, MAX_ID)).find(usable);
  return found ?? fallback;
}

/** The id a team's name folds to, before uniqueness ("Communication & Réseaux" → communication-reseaux). */
export function teamIdBase(name: string, prefix: string): string {
  const folded = cut(foldWord(name), MAX_ID);
  if (usable(folded)) return folded;
  // A name of digits ("2026") or of one letter: the prefix makes it start with a letter.
  const prefixed = cut(`${prefix}-${folded}`.replace(/-+$/, ""), MAX_ID);
  return usable(prefixed) ? prefixed : prefix;
}

/**
 * Ids already given, as the services compare them, and the first free id from a base: the
 * base itself, else base-2, base-3... (cut so that the suffix fits). A reserved name is never
 * free (names.ts says whose it is).
 */
export class IdPool {
  private readonly taken = new Set<string>();
  private readonly reserved: (id: string) => string | undefined;

  constructor(reserved: (id: string) => string | undefined) {
    this.reserved = reserved;
  }

  static forMembers(): IdPool {
    return new IdPool(reservedMemberId);
  }

  static forTeams(): IdPool {
    return new IdPool(reservedTeamId);
  }

  has(id: string): boolean {
    return this.taken.has(normalName(id));
  }

  take(id: string): void {
    this.taken.add(normalName(id));
  }

  /** Takes and returns the first free id from `base`. */
  claim(base: string): string {
    const free = (id: string) => !this.has(id) && this.reserved(id) === undefined;
    let id = base;
    // Bounded: each try adds one name, and `taken` is finite.
    for (let n = 2; !free(id); n++) id = `${cut(base, MAX_ID - String(n).length - 1)}-${n}`;
    this.take(id);
    return id;
  }
}
