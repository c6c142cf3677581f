/**
 * The one error type of exsh. Every failure a user can cause carries a stable,
 * namespaced code (`reservation.udiMismatch`, `store.locked`) besides its sentence,
 * so scripts and tests match codes, not prose (as commander does with
 * `commander.unknownOption`).
 */
export class ExshError extends Error {
  readonly code: string;
  /** Process exit status when this error ends a CLI run (§1): 1 command failed, 2 usage, 3 store. */
  readonly exitCode: number;

  constructor(code: string, message: string, exitCode = 1) {
    super(message);
    this.name = 'ExshError';
    this.code = code;
    this.exitCode = exitCode;
  }
}

export function isExshError(e: unknown): e is ExshError {
  return e instanceof ExshError;
}

/** Usage errors (bad flag, missing argument): exit status 2. */
export function usageError(code: string, message: string): ExshError {
  return new ExshError(code, message, 2);
}

/** The state store could not be used (locked, corrupt, unreadable): exit status 3. */
export function storeError(code: string, message: string): ExshError {
  return new ExshError(code, message, 3);
}

/** How exsh prints a diagnostic about itself on stderr: one sentence and the code. */
export function formatDiagnostic(e: ExshError): string {
  return `exsh: ${e.message} [${e.code}]`;
}
