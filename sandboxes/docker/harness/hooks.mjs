// verdict's module hooks for the node:test tester (registered by tester.mjs): a test
// file's import of a learner's module (`./queue.js`) resolves to a proxy module made
// here, which declares the module's exports and takes each from the learner's process
// through the proxy; its import of `node:test` resolves to verdict's wrapper
// (node-test.mjs), which runs only the tests of this batch. Nothing of the learner's is
// ever loaded in the tester's process.
const TESTS = 'file:///work/tests/';
const PROXY = 'verdict-proxy:';
let modules = {};

export async function initialize(data) {
  modules = data.modules;
}

export async function resolve(specifier, context, next) {
  const parent = context.parentURL ?? '';
  if (parent.startsWith(TESTS) && specifier === 'node:test') {
    return { url: 'file:///work/harness/node-test.mjs', shortCircuit: true };
  }
  if (parent.startsWith(TESTS) && (specifier.startsWith('./') || specifier.startsWith('../'))) {
    const url = new URL(specifier, parent);
    const name = url.pathname.split('/').pop();
    if (url.href === TESTS + name && Object.hasOwn(modules, name)) {
      return { url: PROXY + name, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith(PROXY)) return next(url, context);
  const { id, exports } = modules[url.slice(PROXY.length)];
  const lines = [
    "import { moduleMirror } from 'file:///work/harness/proxy.mjs';",
    `const module = moduleMirror(${Number(id)});`,
  ];
  for (const name of exports) {
    if (name === 'default') lines.push('export default module.default;');
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name)) lines.push(`export const ${name} = module[${JSON.stringify(name)}];`);
  }
  return { format: 'module', source: lines.join('\n'), shortCircuit: true };
}
