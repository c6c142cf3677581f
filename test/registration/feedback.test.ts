import { afterEach, describe, expect, it } from 'vitest';
import { cleanHomes } from '../device/helpers.js';
import { connectedDevice } from './helpers.js';

afterEach(cleanHomes);

describe('xFeedback (§9.4)', () => {
  it('pushes the registration status when Register changes it, and JSON mode carries the same fields', async () => {
    const t = await connectedDevice();
    await t.run('xFeedback Register /Status/License/Smart/Registration');
    const out = await t.run(`xCommand License Smart Register IdToken: ${t.token()}`);
    expect(out).toMatch(/\nOK\n\*s License: \/\n {4}Smart:\n {6}Registration:\n {8}Status: "Registered"\n[\s\S]*\*s\/end\n\*\* end\n$/);
    const j = await connectedDevice({ mode: 'json' });
    const json = await j.run(`xCommand License Smart Register IdToken: ${j.token()}`);
    expect(JSON.parse(json)).toMatchObject({ CommandResponse: { LicenseSmartRegisterResult: { status: 'OK', Registration: { Value: 'Registered' } } } });
  });
});
