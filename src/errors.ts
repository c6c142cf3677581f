import { printable } from './text.js';

/**
 * The errors of exsh. Every failure a user can cause carries a stable, namespaced code
 * (`reservation.udiMismatch`, `store.locked`) besides its sentence, so scripts and tests
 * match codes, not prose (as commander does with `commander.unknownOption`). The class
 * says what the failure means for the process: `main()` maps classes to exit statuses
 * in one place (§1: 1 a command failed, 2 usage, 3 the store could not be used).
 */
export class ExshError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A bad flag, a missing argument, an option value out of range: exit status 2. */
export class UsageError extends ExshError {}

/** The state store (or the home holding it) could not be used: exit status 3. */
export class StoreError extends ExshError {}

export function isExshError(e: unknown): e is ExshError {
  return e instanceof ExshError;
}

export function usageError(code: string, message: string): UsageError {
  return new UsageError(code, message);
}

export function storeError(code: string, message: string): StoreError {
  return new StoreError(code, message);
}

/** The exit status an error ends a CLI run with (§1). */
export function exitStatusOf(e: ExshError): 1 | 2 | 3 {
  if (e instanceof StoreError) return 3;
  if (e instanceof UsageError) return 2;
  return 1;
}

/**
 * How exsh prints a diagnostic about itself on stderr: one sentence and the code. What a
 * user typed may be in it; control characters never reach the terminal raw.
 */
export function formatDiagnostic(e: ExshError): string {
  return printable(`exsh: ${e.message} [${e.code}]`);
}
