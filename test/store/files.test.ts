import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { appendPrivateFile, ensurePrivateDir, prepareHome, writePrivateFile } from '../../src/files.js';
import { cleanHomes, codeOf, tempHome } from '../device/helpers.js';

/** Files exsh creates: private, atomic, and never through a symlink someone planted. */

afterEach(cleanHomes);

describe('writePrivateFile', () => {
  it('writes 0600 whatever was there, leaves no temp file, and replaces a symlink rather than its target', () => {
    const dir = tempHome();
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious', { mode: 0o644 });
    const file = join(dir, 'out');
    symlinkSync(victim, file);
    writePrivateFile(file, 'new');
    expect(readFileSync(victim, 'utf8')).toBe('precious');
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).sort()).toEqual(['out', 'victim']);
  });
});

describe('appendPrivateFile', () => {
  it('appends 0600, and refuses a symlink (the history file of a planted link is skipped)', () => {
    const dir = tempHome();
    const file = join(dir, 'history');
    expect(appendPrivateFile(file, 'a\n')).toBe(true);
    expect(appendPrivateFile(file, 'b\n')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('a\nb\n');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious');
    const link = join(dir, 'planted');
    symlinkSync(victim, link);
    expect(appendPrivateFile(link, 'password\n')).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('precious');
  });
});

describe('private directories', () => {
  it('are made 0700, parents too; one that exists is checked, never changed', () => {
    const root = tempHome();
    const deep = join(root, 'a', 'b', 'c');
    ensurePrivateDir(deep);
    for (const d of [join(root, 'a'), join(root, 'a', 'b'), deep]) expect(statSync(d).mode & 0o777).toBe(0o700);
    const open = join(root, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(codeOf(() => ensurePrivateDir(open))).toBe('home.unsafeMode');
    expect(statSync(open).mode & 0o777).toBe(0o777);
    const target = join(root, 'target');
    mkdirSync(target, { mode: 0o700 });
    const link = join(root, 'link');
    symlinkSync(target, link);
    expect(codeOf(() => ensurePrivateDir(link))).toBe('home.symlink');
  });

  it('a home may be the user’s own symlink to a private directory, but not a file', () => {
    const root = tempHome();
    const target = join(root, 'real');
    mkdirSync(target, { mode: 0o700 });
    const link = join(root, 'home');
    symlinkSync(target, link);
    expect(codeOf(() => prepareHome(link))).toBe('no error');
    const file = join(root, 'file');
    writeFileSync(file, '');
    expect(codeOf(() => prepareHome(file))).toBe('home.notDirectory');
  });
});
