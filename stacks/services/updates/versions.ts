// Which of the tags a registry lists are newer releases of a pinned one, in the same variant and
// pinning scheme. Pure: the registry answers come in, the choice goes out.
//
// A tag is read as its numbers and the text between them (its "shape"): 34.0.4-apache has the
// numbers 34, 0, 4 and the shape `.` `.` `-apache`. Only tags of the same shape are candidates, so
// the variant is kept (-apache never becomes -fpm, -alpine never becomes a Debian build) and a moving
// tag (34-apache, 34.0-apache, latest) is never proposed for an exact one.
import type { Localized } from "../../../cli/command.ts";

export interface TagVersion {
  tag: string;
  shape: string;
  numbers: number[];
}

export function readTag(tag: string): TagVersion | undefined {
  const numbers = [...tag.matchAll(/\d+/g)].map((match) => Number(match[0]));
  if (numbers.length === 0) return undefined;
  return { tag, shape: tag.replace(/\d+/g, "#"), numbers };
}

export function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const difference = (a[i] ?? 0) - (b[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * How an image's releases may be taken. `series` is how many leading numbers name a release
 * series: a newer tag in the same series is a plain bump, one in a later series is not.
 * - `bump`: a later series is shown as "new major", for review, not written;
 * - `one-step`: only the next series is shown, flagged (Nextcloud upgrades one major at a time);
 * - `migration`: a later series is a data migration, never proposed (PostgreSQL, MariaDB).
 */
export interface SeriesRule {
  series: number;
  laterSeries: "bump" | "one-step" | "migration";
  why?: Localized;
}

export const DEFAULT_RULE: SeriesRule = { series: 1, laterSeries: "bump" };

/** By repository path in its registry (`locate`: library/nextcloud, jitsi/web); any other image takes DEFAULT_RULE. */
export const SERIES_RULES: Record<string, SeriesRule> = {
  "library/nextcloud": {
    series: 1,
    laterSeries: "one-step",
    why: {
      en: 'Nextcloud upgrades one major version at a time (stacks/services/nextcloud/upgrade.ts); deploy it alone, after a backup (README, "Upgrading")',
      fr: "Nextcloud passe une version majeure à la fois (stacks/services/nextcloud/upgrade.ts) : déployez-la seule, après une sauvegarde (README, « Upgrading »)",
    },
  },
  "library/postgres": {
    series: 1,
    laterSeries: "migration",
    why: {
      en: "a new PostgreSQL major cannot read the former one's data directory (pg_upgrade or a dump and reload); not a version bump",
      fr: "une nouvelle version majeure de PostgreSQL ne lit pas le dossier de données de la précédente (pg_upgrade, ou un export puis un import) : ce n'est pas une simple mise à jour",
    },
  },
  "library/mariadb": {
    // 11.8 is a long-term series; 11.9, 12.x are other series, with their own data upgrade (mariadb-upgrade).
    series: 2,
    laterSeries: "migration",
    why: {
      en: "another MariaDB series upgrades the data files (mariadb-upgrade); not a version bump",
      fr: "une autre série de MariaDB met à niveau les fichiers de données (mariadb-upgrade) : ce n'est pas une simple mise à jour",
    },
  },
  "library/php": {
    // Framadate's base: another PHP minor is another language version for its code.
    series: 2,
    laterSeries: "bump",
    why: {
      en: "another PHP series for Framadate's code: check that docker/framadate builds and runs with it",
      fr: "une autre série de PHP pour le code de Framadate : vérifiez que docker/framadate se construit et fonctionne avec elle",
    },
  },
  // Jitsi numbers its stable releases stable-NNNNN[-N]: every newer one is the next release.
  "jitsi/web": { series: 0, laterSeries: "bump" },
  "jitsi/prosody": { series: 0, laterSeries: "bump" },
  "jitsi/jicofo": { series: 0, laterSeries: "bump" },
  "jitsi/jvb": { series: 0, laterSeries: "bump" },
};

export interface Candidates {
  /** The newest tag of the same shape and series, newer than the pinned one. */
  bump?: string;
  /** The newest tag of the same shape in a later series, with the rule that keeps it from being a plain bump. */
  laterSeries?: { tag: string; rule: SeriesRule };
}

/** The newer releases among `tags` for the pinned `current` tag. */
export function newerReleases(current: string, tags: readonly string[], rule: SeriesRule = DEFAULT_RULE): Candidates {
  const pinned = readTag(current);
  if (!pinned) return {};
  const sameSeries = (numbers: number[]) => compareVersions(numbers.slice(0, rule.series), pinned.numbers.slice(0, rule.series)) === 0;
  const newer = tags
    .map(readTag)
    .filter((version): version is TagVersion => version !== undefined && version.shape === pinned.shape && compareVersions(version.numbers, pinned.numbers) > 0)
    .sort((a, b) => compareVersions(b.numbers, a.numbers));
  const bump = newer.find((version) => sameSeries(version.numbers));
  let later = newer.filter((version) => !sameSeries(version.numbers));
  if (rule.laterSeries === "one-step") {
    const next = pinned.numbers.slice(0, rule.series).map((n, i) => (i === rule.series - 1 ? n + 1 : n));
    later = later.filter((version) => compareVersions(version.numbers.slice(0, rule.series), next) === 0);
  }
  return {
    ...(bump ? { bump: bump.tag } : {}),
    ...(later[0] ? { laterSeries: { tag: later[0].tag, rule } } : {}),
  };
}
