/**
 * The value types of the xAPI language (§2, §3). This module imports nothing, so every
 * layer (the tree, renderers, the device model, the store) can name these types without
 * pulling in anything else.
 */

export type ValueSpace = { kind: 'enum'; values: readonly string[] } | { kind: 'int'; min: number; max: number } | { kind: 'string'; min: number; max: number };

export type Scalar = string | number;

export type StatusValue = Scalar | StatusObject | StatusObject[];
export interface StatusObject {
  [key: string]: StatusValue;
}

export type ParamValues = Record<string, Scalar | Scalar[] | undefined>;

/** What a command handler returns. Handlers never print: renderers turn this into text. */
export interface CommandOutcome {
  /** The command's human text exactly as the device words it (terminal mode). */
  text?: string[];
  /** Result values (json / xml, and the terminal result block when there is no text). */
  fields?: Record<string, Scalar>;
}

export type OutputMode = 'terminal' | 'json' | 'xml';
export const OUTPUT_MODES: readonly OutputMode[] = ['terminal', 'xml', 'json'];

export type Root = 'Configuration' | 'Command' | 'Status';
