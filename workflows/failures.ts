// What a failure reaching workflow code says, for a status or a progress report: Temporal wraps the
// error that happened (child workflow → activity → application failure), and only the innermost one
// names the cause.

interface Failure {
  message?: string;
  cause?: Failure;
}

/** The innermost message of a failure's chain of causes, at most 500 characters. */
export function innermostMessage(error: unknown): string {
  let current = error as Failure | undefined;
  while (current?.cause) current = current.cause;
  return (current?.message ?? String(error)).slice(0, 500);
}
