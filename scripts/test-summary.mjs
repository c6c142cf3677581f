// Prints vitest's totals as one plain closing line, "N passed, N failed" (used by .ci/run).
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync('.vitest-results.json', 'utf8'));
const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}`);
