// What a command-line entry (plan, report, deploy's check) prints when it stops: the
// message, which says what to fix. A stack trace helps only whoever debugs Bastide
// itself: BASTIDE_DEBUG=1 shows it.
export function failure(error: unknown, debug = Boolean(process.env.BASTIDE_DEBUG)): string {
  if (debug && error instanceof Error && error.stack) return error.stack;
  return error instanceof Error ? error.message : String(error);
}
