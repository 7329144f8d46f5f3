// The apps a member installs for each service, and the calendar address a phone or a
// desktop calendar is given. Every link is the one the service's own project publishes,
// with the file it comes from; none is a guess.
import type { SheetLanguage } from "./sheet.ts";

export interface AppLink {
  /** Where it runs, in the sheet's language: "Android (Google Play)", "iPhone, iPad"… */
  platform: string;
  url: string;
}

type Platform = "android" | "fdroid" | "ios" | "desktop" | "all";

const PLATFORM_NAMES: Record<SheetLanguage, Record<Platform, string>> = {
  fr: { android: "Android (Google Play)", fdroid: "Android (F-Droid)", ios: "iPhone, iPad (App Store)", desktop: "Ordinateur (Windows, macOS, Linux)", all: "Téléphone et ordinateur" },
  en: { android: "Android (Google Play)", fdroid: "Android (F-Droid)", ios: "iPhone, iPad (App Store)", desktop: "Computer (Windows, macOS, Linux)", all: "Phone and computer" },
};

const APPS = {
  // nextcloud/server 34.0.1 (the pinned image), lib/private/legacy/OC_Defaults.php:42-46: the
  // defaults of customclient_desktop, customclient_ios, customclient_android, customclient_fdroid.
  nextcloud: {
    android: "https://play.google.com/store/apps/details?id=com.nextcloud.client",
    fdroid: "https://f-droid.org/packages/com.nextcloud.client/",
    ios: "https://geo.itunes.apple.com/us/app/nextcloud/id1125420102?mt=8",
    desktop: "https://nextcloud.com/install/#install-clients",
  },
  // element-hq/element-web, src/vector/mobile_guide/mobile-apps.ts, MobileAppVariant.Classic
  // (the app that logs in to any Synapse, through its SSO as well); desktop:
  // element-hq/element-desktop, .github/ISSUE_TEMPLATE/bug-desktop.yml ("From https://element.io/get-started").
  element: {
    android: "https://play.google.com/store/apps/details?id=im.vector.app",
    fdroid: "https://f-droid.org/packages/im.vector.app",
    ios: "https://apps.apple.com/app/element-messenger/id1083446067",
    desktop: "https://element.io/get-started",
  },
  // jitsi/jitsi-meet, interface_config.js: MOBILE_DOWNLOAD_LINK_ANDROID, _F_DROID, _IOS. On a
  // computer, Jitsi Meet runs in the browser: nothing to install.
  jitsi: {
    android: "https://play.google.com/store/apps/details?id=org.jitsi.meet",
    fdroid: "https://f-droid.org/en/packages/org.jitsi.meet/",
    ios: "https://itunes.apple.com/us/app/jitsi-meet/id1165103905",
  },
  // DAVx⁵ syncs CalDAV calendars into Android's own calendar: bitfireAT/davx5-ose,
  // app/build.gradle.kts (applicationId "at.bitfire.davdroid"), the id both stores list it
  // under. iPhones need no app: the calendar account is added in the system's settings.
  davx5: {
    android: "https://play.google.com/store/apps/details?id=at.bitfire.davdroid",
    fdroid: "https://f-droid.org/packages/at.bitfire.davdroid/",
  },
  // WireGuard's own page lists its app for every system (www.wireguard.com/install).
  wireguard: {
    all: "https://www.wireguard.com/install/",
  },
} as const satisfies Record<string, Partial<Record<Platform, string>>>;

export type App = keyof typeof APPS;

const ORDER: Platform[] = ["android", "fdroid", "ios", "desktop", "all"];

export function appLinks(app: App, language: SheetLanguage): AppLink[] {
  const links: Partial<Record<Platform, string>> = APPS[app];
  return ORDER.flatMap((p) => (links[p] ? [{ platform: PLATFORM_NAMES[language][p], url: links[p]! }] : []));
}

/**
 * What a calendar app asks for. Nextcloud 34.0.1 serves CalDAV under remote.php/dav
 * (remote.php:82, 'dav' => dav/appinfo/v2/remote.php), a user's principal at
 * principals/users/<uid>/ and their calendars under calendars/<uid>/
 * (apps/dav/lib/RootCollection.php:90 and :116; the project's recordings,
 * test/contracts/recordings/nextcloud-34/, show the same calendars/<uid>/<uri>/ paths).
 * DAVx⁵ takes the base address and finds the rest; iOS asks for the principal.
 */
export function calendarAddresses(cloudHost: string, userId: string): { base: string; principal: string } {
  const base = `https://${cloudHost}/remote.php/dav`;
  return { base, principal: `${base}/principals/users/${encodeURIComponent(userId)}/` };
}
