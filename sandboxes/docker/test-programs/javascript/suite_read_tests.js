// D6: hidden suite tests are secret: /work/tests is readable by the tester's group only.
// This answers 'sandbox held' only if it can read no test file.
import { readdirSync, readFileSync } from 'node:fs';

function found() {
  const read = [];
  for (const dir of ['/work/tests', '/work/app', '/work']) {
    let names = [];
    try { names = readdirSync(dir); } catch {}
    for (const name of names) {
      if (!name.includes('test')) continue;
      try { readFileSync(`${dir}/${name}`); read.push(`${dir}/${name}`); } catch {}
    }
  }
  return read;
}

export function keep() {
  return undefined;
}
export function value() {
  const read = found();
  return read.length ? `read ${read}` : 'sandbox held';
}
export function double(n) {
  if (typeof n !== 'number') throw new TypeError('double() takes a number');
  return 2 * n;
}
