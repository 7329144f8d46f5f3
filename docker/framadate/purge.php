<?php
/**
 * Deletes every poll whose end date is more than PURGE_DELAY days old, with its
 * choices, votes and comments, through Framadate's own PurgeService.
 *
 * Framadate only purges on its own when someone creates a poll, and then at most
 * 20 polls (PollRepository::findOldPolls); a quiet instance would keep expired
 * answers forever. bastide-purge-loop runs this daily; each round purges up to 20,
 * so this repeats until nothing is left, within a bound.
 */
declare(strict_types=1);

use Framadate\Services\LogService;
use Framadate\Services\PurgeService;

if (PHP_SAPI !== 'cli') {
    http_response_code(404);
    exit(1);
}
ini_set('display_errors', 'stderr');

$root = rtrim(getenv('FRAMADATE_ROOT') ?: '/var/www/html', '/');
$maxRounds = max(1, (int) (getenv('BASTIDE_PURGE_MAX_ROUNDS') ?: 500));

function bastide_fail(string $message): void
{
    fwrite(STDERR, "framadate purge: $message\n");
    exit(1);
}

$_SERVER += [
    'SERVER_NAME' => 'localhost',
    'HTTP_HOST' => 'localhost',
    'SERVER_PORT' => '80',
    'REQUEST_METHOD' => 'GET',
    'SCRIPT_NAME' => '/admin/purge.php',
    'REQUEST_URI' => '/admin/purge.php',
];

// init.php answers a failed connection with a redirect and `exit`: catch any early exit.
$initialised = false;
register_shutdown_function(static function () use (&$initialised): void {
    if (!$initialised) {
        while (ob_get_level() > 0) {
            ob_end_clean();
        }
        bastide_fail('Framadate did not start (is the database up?)');
    }
});
ob_start();
require $root . '/app/inc/init.php';
ob_end_clean();
$initialised = true;

if (!isset($connect)) {
    bastide_fail('Framadate has no database connection; check app/inc/config.php');
}

// Framadate 1.1.18+ builds the service from the log service alone.
$purgeService = new PurgeService(new LogService());

$purged = 0;
for ($round = 1; $round <= $maxRounds; $round++) {
    $found = $purgeService->purgeOldPolls();
    if (!is_int($found)) {
        bastide_fail('PurgeService::purgeOldPolls() did not return a count; is this Framadate 1.1?');
    }
    if ($found === 0) {
        printf("framadate purge: %d poll(s) purged, none left older than %d days past its end\n", $purged, PURGE_DELAY);
        exit(0);
    }
    $purged += $found;
}
bastide_fail("expired polls remain after $maxRounds rounds ($purged found); the next run goes on");
