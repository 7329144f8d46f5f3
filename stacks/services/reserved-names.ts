// The names Bastide itself takes in the services: accounts, groups and the bot. A module that
// imports nothing, so that the config's reserved-name checks (stacks/config/names.ts), the
// blueprints and the provisioners all read the same names without importing one another.

/**
 * The install-time admin account, used by automation only; staff admins get their own
 * accounts in the `admin` group. The leading underscore keeps it out of the member ids'
 * alphabet, so no member can collide with it.
 */
export const NEXTCLOUD_ADMIN_USER = "_bastide";
/**
 * The group earlier versions put NEXTCLOUD_ADMIN_USER in to exempt it from two-factor login (it did not:
 * see NEXTCLOUD_TWO_FACTOR_GROUP). Existing servers keep it, so no team may take its name.
 */
export const NEXTCLOUD_SERVICE_GROUP = "bastide-service";

/**
 * The group two-factor login is enforced for: the association's admins, never the service
 * account. Not `admin` itself: the service account is in `admin`, and an enforced group
 * overrules an excluded one (lib/private/Authentication/TwoFactorAuth/MandatoryTwoFactor.php,
 * 34.0.1, isEnforcedFor, lines 53-82; recorded in two-factor-enforcement.json), so enforcing
 * for `admin` locks provisioning out whatever is excluded. The leading underscore keeps it
 * out of the team ids' alphabet.
 */
export const NEXTCLOUD_TWO_FACTOR_GROUP = "_admins-2fa";

/** The Nextcloud group every member is in: the association-wide calendar is shared with it. */
export const EVERYONE_GROUP = "association";
/** Nextcloud's built-in administrators group. */
export const NEXTCLOUD_ADMIN_GROUP = "admin";
/** The Matrix account Bastide acts as: created by shared-secret registration, server admin. */
export const MATRIX_BOT = "bastide";
