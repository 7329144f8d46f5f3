<?php
/**
 * Brings Framadate's database schema up to date before Apache starts, unattended.
 *
 * Framadate (1.1.x) keeps its list of migrations, and the bookkeeping of which ran,
 * in its admin page admin/migration.php; it has no other entry point. This script
 * runs that very page in-process, discards its HTML and reads its counters, so the
 * schema is always the one Framadate itself would build.
 */
declare(strict_types=1);

if (PHP_SAPI !== 'cli') {
    http_response_code(404);
    exit(1);
}
ini_set('display_errors', 'stderr');

$root = rtrim(getenv('FRAMADATE_ROOT') ?: '/var/www/html', '/');
$waitAttempts = max(1, (int) (getenv('BASTIDE_DB_WAIT_ATTEMPTS') ?: 60));
$waitSeconds = max(0, (int) (getenv('BASTIDE_DB_WAIT_SECONDS') ?: 2));

function bastide_fail(string $message): void
{
    fwrite(STDERR, "framadate migration: $message\n");
    exit(1);
}

// Framadate's pages read the request they serve; give them a local one.
$_SERVER += [
    'SERVER_NAME' => 'localhost',
    'HTTP_HOST' => 'localhost',
    'SERVER_PORT' => '80',
    'REQUEST_METHOD' => 'GET',
    'SCRIPT_NAME' => '/admin/migration.php',
    'REQUEST_URI' => '/admin/migration.php',
];

// Framadate's init.php includes the same file with include_once: it is read once.
require_once $root . '/app/inc/config.php';

// The database may still be starting (after a reboot every container starts at once).
for ($attempt = 1; ; $attempt++) {
    try {
        new PDO(DB_CONNECTION_STRING, DB_USER, DB_PASSWORD, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
        break;
    } catch (PDOException $e) {
        // PDO's messages name the user and host, never the password.
        if ($attempt >= $waitAttempts) {
            bastide_fail("database unreachable after $attempt attempts: " . $e->getMessage());
        }
        sleep($waitSeconds);
    }
}

// init.php answers a failed connection with a redirect and `exit`: catch any early exit.
$finished = false;
register_shutdown_function(static function () use (&$finished): void {
    if ($finished) {
        return;
    }
    $page = '';
    while (ob_get_level() > 0) {
        $page = ob_get_clean() . $page;
    }
    $text = trim((string) preg_replace('/\s+/', ' ', strip_tags($page)));
    bastide_fail('admin/migration.php stopped before its end' . ($text === '' ? '' : ': ' . substr($text, 0, 500)));
});

chdir($root . '/admin');
ob_start();
require $root . '/admin/migration.php';
ob_end_clean();
$finished = true;

if (!isset($countSucceeded, $countFailed, $countSkipped)) {
    bastide_fail('admin/migration.php did not report its counters; is this Framadate 1.1?');
}
if ($countFailed > 0) {
    bastide_fail("$countFailed migration(s) failed: " . implode('; ', $fail ?? []));
}
if (!in_array(\Framadate\Utils::table('poll'), $connect->allTables(), true)) {
    bastide_fail('the migrations ran but the poll table is missing');
}
echo "framadate migration: $countSucceeded applied, $countSkipped already in place\n";
