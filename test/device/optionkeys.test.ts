import { afterEach, describe, expect, it } from 'vitest';
import { addOptionKey, deleteOptionKey, hasMicrosoftInterop, MAX_OPTION_KEYS, parseOptionKey, type OptionKeySection } from '../../src/device/optionkeys.js';
import { applyFactoryReset } from '../../src/device/reset.js';
import { cleanHomes, errorReply, testDevice } from './helpers.js';

afterEach(cleanHomes);

const TRAVERSAL = '116341T00-1-AB12CD34';
const MS_INTEROP = '116341M00-1-0BADF00D';

describe('option key format', () => {
  it.each([
    ['116341G00-1-AB12CD34', '116341G00-1-AB12CD34', 'Advanced Networking'],
    ['116341t05-12-ab12cd34', '116341T05-12-AB12CD34', 'Traversal Calls'],
    [' 116341M00-1-0BADF00D ', MS_INTEROP, 'Microsoft Interoperability'],
  ])('%s is accepted as %s (%s)', (raw, key, feature) => {
    expect(parseOptionKey(raw)).toEqual({ key, feature });
  });

  it.each([
    '',
    'ABCDEFG',
    '116341G00-1-AB12CD3',
    '116341G00-1-AB12CD34X',
    '11634G00-1-AB12CD34',
    '116341G0-1-AB12CD34',
    '116341G00-123-AB12CD34',
    '116341GG0-1-AB12CD34',
    '116341G00-1-GB12CD34',
  ])('%j is refused: optionKey.badFormat', (raw) => {
    expect(() => parseOptionKey(raw)).toThrow(expect.objectContaining({ code: 'optionKey.badFormat' }));
  });

  it('an unknown feature letter is a bad format', () => {
    expect(() => parseOptionKey('116341Z00-1-AB12CD34')).toThrow(
      expect.objectContaining({ code: 'optionKey.badFormat', message: expect.stringContaining("'Z' is not a feature") }),
    );
  });
});

describe('OptionKey Add/Delete on a Cisco VCS (§8.3)', () => {
  it('adds, lists and deletes keys', async () => {
    const d = await testDevice({ brand: 'VCS' });
    expect(await d.run(`xcommand OptionKey Add Key: ${TRAVERSAL.toLowerCase()}`)).toBe(
      `*r OptionKeyAddResult (status=OK):\n    Key: "${TRAVERSAL}"\n    Feature: "Traversal Calls"\n*r/end\n\nOK\n`,
    );
    await d.run(`xcommand OptionKey Add ${MS_INTEROP}`);
    expect(await d.run('xstatus OptionKey')).toBe(
      [
        '*s OptionKey 1: /',
        `    Key: "${TRAVERSAL}"`,
        '    Feature: "Traversal Calls"',
        '    Status: "Active"',
        '*s/end',
        '*s OptionKey 2: /',
        `    Key: "${MS_INTEROP}"`,
        '    Feature: "Microsoft Interoperability"',
        '    Status: "Active"',
        '*s/end',
        '',
        'OK',
        '',
      ].join('\n'),
    );
    expect(await d.run(`xcommand OptionKey Delete Key: ${TRAVERSAL}`)).toContain('(status=OK)');
    expect((await d.state()).optionKeys).toMatchObject({ keys: [{ key: MS_INTEROP }] });
  });

  it.each([
    ['a malformed key', (k: string) => k, 'nonsense', 'optionKey.badFormat'],
    ['a key already installed', (k: string) => k, TRAVERSAL, 'optionKey.duplicate'],
  ])('Add refuses %s', async (_what, _f, key, code) => {
    const d = await testDevice({ brand: 'VCS' });
    await d.mutate((ctx) => addOptionKey(ctx, TRAVERSAL));
    expect(await d.refusal((ctx) => addOptionKey(ctx, key))).toBe(code);
  });

  it(`Add refuses a key beyond ${MAX_OPTION_KEYS}: optionKey.tooMany`, async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.mutate((ctx) => {
      for (let i = 0; i < MAX_OPTION_KEYS; i++) addOptionKey(ctx, `116341C00-1-${i.toString(16).padStart(8, '0').toUpperCase()}`);
    });
    expect(await d.refusal((ctx) => addOptionKey(ctx, TRAVERSAL))).toBe('optionKey.tooMany');
  });

  it('Delete refuses a key that is not installed: optionKey.notFound', async () => {
    const d = await testDevice({ brand: 'VCS' });
    expect(await d.run(`xcommand OptionKey Delete Key: ${TRAVERSAL}`)).toBe(
      errorReply('OptionKeyDelete', `Option key ${TRAVERSAL} is not installed on this system.`, 'optionKey.notFound'),
    );
  });
});

describe('option keys on an Expressway (§8.3)', () => {
  it('adding any key is refused: PAK option keys were removed in X14.2', async () => {
    const d = await testDevice();
    expect(await d.run(`xcommand OptionKey Add Key: ${TRAVERSAL}`)).toBe(
      errorReply(
        'OptionKeyAdd',
        'Option keys cannot be added to an Expressway: PAK option keys were removed in X14.2 and this system is licensed by Smart Licensing.',
        'optionKey.notOnExpressway',
      ),
    );
    expect(await d.refusal((ctx) => addOptionKey(ctx, 'garbage'))).toBe('optionKey.notOnExpressway');
    expect(await d.refusal((ctx) => addOptionKey(ctx, MS_INTEROP))).toBe('optionKey.msInteropNotAddable');
  });

  it('the switch from VCS keeps only the Microsoft Interoperability key, which keeps the feature', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.run(`xcommand OptionKey Add Key: ${TRAVERSAL}`);
    await d.run(`xcommand OptionKey Add Key: ${MS_INTEROP}`);
    await d.run('xcommand ServiceSelect Brand: Expressway');
    expect((await d.state()).optionKeys).toEqual({
      keys: [{ key: MS_INTEROP, feature: 'Microsoft Interoperability', addedAt: expect.any(String), retained: true }],
    });
    expect(hasMicrosoftInterop(await d.state())).toBe(true);
    expect(await d.run('xstatus OptionKey 1 Status')).toBe('*s OptionKey 1: /\n    Status: "Retained from Cisco VCS"\n*s/end\n\nOK\n');
  });

  it('once deleted, the retained MS Interop key cannot be added again', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.run(`xcommand OptionKey Add Key: ${MS_INTEROP}`);
    await d.run('xcommand ServiceSelect Brand: Expressway');
    expect(await d.run(`xcommand OptionKey Delete Key: ${MS_INTEROP}`)).toContain('(status=OK)');
    expect(hasMicrosoftInterop(await d.state())).toBe(false);
    expect(((await d.state()).optionKeys as OptionKeySection).msInteropDeleted).toBe(true);
    expect(await d.run(`xcommand OptionKey Add Key: ${MS_INTEROP}`)).toBe(
      errorReply(
        'OptionKeyAdd',
        'The Microsoft Interoperability option key cannot be added from X14.2: only a system that had it as a Cisco VCS keeps it.',
        'optionKey.msInteropNotAddable',
      ),
    );
    expect(await d.refusal((ctx) => deleteOptionKey(ctx, MS_INTEROP))).toBe('optionKey.notFound');
  });

  it('a factory reset loses the MS Interop key, even keeping brand and type', async () => {
    const d = await testDevice({ brand: 'VCS' });
    await d.mutate((ctx) => addOptionKey(ctx, MS_INTEROP));
    await d.mutate((ctx) => {
      ctx.state.brand = 'Expressway';
    });
    await d.mutate((ctx) => applyFactoryReset(ctx, d.model, { 'brand-type': true, 'smart-licensing': true }));
    expect((await d.state()).brand).toBe('Expressway');
    expect(hasMicrosoftInterop(await d.state())).toBe(false);
    expect((await d.state()).optionKeys).toEqual({ keys: [] });
  });
});
