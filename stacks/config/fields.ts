// Reusable field schemas. Each carries a message that says how to fix the value,
// because the person reading it is a volunteer admin, not a TypeScript developer.
import { z } from "zod";

export const EU_EEA_COUNTRIES = [
  "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
  "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
  // EEA members outside the EU: the GDPR applies there too.
  "IS", "LI", "NO",
] as const;

function countryProblem(input: unknown): string {
  const upper = typeof input === "string" ? input.trim().toUpperCase() : "";
  if ((EU_EEA_COUNTRIES as readonly string[]).includes(upper) && upper !== input)
    return `"${String(input)}" must be written as ${upper}: two capital letters`;
  return (
    `${input === undefined ? "must be" : `"${String(input)}" is not`} an EU/EEA country code: ` +
    `Bastide keeps the data in the EU/EEA. Use a two-letter code such as FR, DE, BE or NL.`
  );
}

export const euCountry = z.enum(EU_EEA_COUNTRIES, { error: (issue) => countryProblem(issue.input) });

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export const domainName = z
  .string({ error: "must be a domain name such as asso-exemple.fr" })
  .trim()
  .toLowerCase()
  .refine(
    (value) => value.length <= 253 && value.split(".").length >= 2 && value.split(".").every((l) => LABEL.test(l)),
    { error: "must be a domain name such as asso-exemple.fr (letters, digits, hyphens and dots; at least two labels)" },
  );

export const subdomainLabel = z
  .string()
  .trim()
  .toLowerCase()
  .regex(LABEL, { error: "must be one DNS label such as meet or cloud (letters, digits and hyphens, no dots)" });

export const email = z.email({ error: "must be an e-mail address such as dpo@asso-exemple.fr" });

/** Ids become user names in five services; keep them to what all five accept. */
export const identifier = z
  .string({ error: "must be an identifier such as alice.martin" })
  .regex(/^[a-z][a-z0-9._-]{1,31}$/, {
    error: "must be 2-32 characters: lower-case letters, digits, dot, hyphen or underscore, starting with a letter (e.g. alice.martin)",
  });

export const displayName = z
  .string({ error: "must be a name such as Alice Martin" })
  .trim()
  .min(1, { error: "must not be empty" })
  .max(100, { error: "must be at most 100 characters" });

export const language = z.enum(["fr", "en"], { error: "must be fr or en" });

export const days = (what: string, min: number, max: number) =>
  z
    .number({ error: `must be a number of days (${what})` })
    .int({ error: `must be a whole number of days (${what})` })
    .min(min, { error: `must be at least ${min} days (${what})` })
    .max(max, { error: `must be at most ${max} days (${what})` });

export const ipv4Cidr = z.cidrv4({ error: "must be an IPv4 network in CIDR form such as 10.8.0.0/24" });

export const addressOrCidr = z.union([z.cidrv4(), z.cidrv6(), z.ipv4(), z.ipv6()], {
  error: "must be an IP address or network such as 203.0.113.7/32",
});

/** Text that states why a protection is turned off: the DPO reads it in the register. */
export const reason = z
  .string({ error: "must explain, in a sentence, why (the DPO's register quotes it)" })
  .trim()
  .min(10, { error: "must explain, in a sentence of at least 10 characters, why (the DPO's register quotes it)" });
