import type { Scalar, StatusObject } from './types.js';

/**
 * What a request produced, independent of the output mode. Renderers turn a Reply
 * into terminal, JSON or XML text; nothing here knows licensing.
 */

export interface ConfigLine {
  path: readonly string[];
  value: Scalar;
  /** Strings are quoted; enums and numbers are bare. */
  quoted: boolean;
}

export type Reply =
  /** xConfiguration get: one line per leaf. */
  | { kind: 'config'; lines: ConfigLine[] }
  /** xConfiguration set accepted. */
  | { kind: 'set' }
  /** xStatus get: the subtree wrapped in its ancestors, from the top node. */
  | { kind: 'status'; tree: StatusObject }
  /** xCommand ran (OK), or any request failed (Error / ParameterError). */
  | {
      kind: 'result';
      name: string;
      status: 'OK' | 'Error' | 'ParameterError';
      text?: string[];
      fields?: Record<string, Scalar>;
      reason?: string;
      code?: string;
      xpath?: string;
      /** Which document a failed get/set belongs to (JSON wraps it accordingly). */
      root?: 'Configuration' | 'Command' | 'Status';
      /** A rejected configuration value: JSON uses the device's illegal-value shape. */
      illegalValuePath?: readonly string[];
    }
  /** Help text; `error` marks usage printed for a command missing required parameters. */
  | { kind: 'help'; lines: string[]; error?: boolean }
  /** Accepted with nothing to show (echo, xFeedback register). */
  | { kind: 'done' }
  | { kind: 'feedbackList'; paths: string[] }
  | { kind: 'notRecognized' }
  /** Prints nothing at all (xPreferences OutputMode, bye). */
  | { kind: 'silent' };

/** A change pushed to a session that registered for it (§2.6); no ResultId. */
export type FeedbackEvent = { kind: 'config'; lines: ConfigLine[] } | { kind: 'status'; tree: StatusObject };

export function isFailure(reply: Reply): boolean {
  return reply.kind === 'notRecognized' || (reply.kind === 'result' && reply.status !== 'OK') || (reply.kind === 'help' && reply.error === true);
}
