/**
 * The questions of the root shell's factory-reset (§8.1), in the device's order and
 * wording. Each state section and configuration prefix names the answer that keeps it
 * (model.ts), so this list sits below everything that declares state.
 */
export const RESET_ITEMS = [
  { name: 'brand-type', question: 'Keep brand and type of the device', label: 'brand and type', status: 'BrandAndType' },
  { name: 'smart-licensing', question: 'Keep smart licensing settings', label: 'smart licensing settings', status: 'SmartLicensing' },
  { name: 'fips', question: 'Keep FIPS 140 configuration', label: 'FIPS 140 configuration', status: 'Fips' },
  { name: 'ip', question: 'Keep IP configuration', label: 'IP configuration', status: 'IP' },
  {
    name: 'management',
    question: 'Keep dedicated management interface configuration',
    label: 'dedicated management interface configuration',
    status: 'ManagementInterface',
  },
  { name: 'ssh-keys', question: 'Keep ssh keys', label: 'ssh keys', status: 'SshKeys' },
  {
    name: 'certificates',
    question: 'Keep server certificate, associated key and CA trust store',
    label: 'server certificate, associated key and CA trust store',
    status: 'Certificates',
  },
  { name: 'passwords', question: 'Keep root and admin passwords', label: 'root and admin passwords', status: 'Passwords' },
  { name: 'logs', question: 'Save log files', label: 'log files', status: 'LogFiles' },
] as const;

export type ResetName = (typeof RESET_ITEMS)[number]['name'];
export type ResetItem = (typeof RESET_ITEMS)[number];
export const RESET_NAMES: readonly ResetName[] = RESET_ITEMS.map((i) => i.name);

/** A reset answer that keeps something, or 'always' (survives every reset) / 'never' (back to defaults). */
export type Retention = ResetName | 'always' | 'never';
