// verdict's proxy protocol, JavaScript side (the Docker runner's node:test suites): the
// instructor's tests run in one Node.js process (the tester, uid 10003) and the learner's
// modules in another (the learner's, uid 10001), so no learner code ever runs where a
// test decides whether it passed. The protocol is the Python side's (sandboxes/harness/
// python/proxy.py): one JSON message per line, in strict turns, relayed by the host.
//
//   tester -> learner  {op: "import"|"get"|"set"|"has"|"delete"|"keys"|"call"|"construct"|"method"|"string", ...}
//   learner -> tester  {answer: value, async?} | {raise: error, async?} | {op: "callback", ...}
//
// Values are copied when they are plain data (null, booleans, numbers, strings, BigInts,
// undefined, arrays, plain objects, Maps and Sets, of exactly those prototypes) and
// passed by reference otherwise: the tester holds a mirror (a Proxy) of the learner's
// object or function, and every use of it is a message. A mirror never turns into a
// primitive (`mirror == 42` throws), so an object whose valueOf claims anything passes
// for nothing.
import { readSync, writeSync } from 'node:fs';

const DEPTH = 100;
const REF = Symbol('verdict.ref');
const CHAIN = Symbol('verdict.chain');
const pause = new Int32Array(new SharedArrayBuffer(4));

export class ProtocolError extends Error {}

/** Lines from a file descriptor, read synchronously (a mirror's call must block). */
export function lineReader(fd) {
  let pending = Buffer.alloc(0);
  const chunk = Buffer.alloc(1 << 16);
  return () => {
    for (;;) {
      const at = pending.indexOf(10);
      if (at >= 0) {
        const line = pending.subarray(0, at).toString('utf8');
        pending = pending.subarray(at + 1);
        return line;
      }
      let count;
      try {
        count = readSync(fd, chunk, 0, chunk.length, null);
      } catch (error) {
        if (error.code === 'EAGAIN') {
          Atomics.wait(pause, 0, 0, 1);
          continue;
        }
        if (error.code === 'EOF') return null;
        throw error;
      }
      if (count === 0) return null;
      pending = Buffer.concat([pending, chunk.subarray(0, count)]);
    }
  };
}

/** Writes every byte, synchronously. */
export function writeAll(fd, text) {
  const bytes = Buffer.from(text);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

const exact = (value, proto) => Object.getPrototypeOf(value) === proto;

/** Plain data both ways; the two sides differ in what stands for an object. */
class Codec {
  encode(value, depth = 0) {
    if (depth > DEPTH) throw new TypeError('the value is nested too deeply (or holds itself)');
    const type = typeof value;
    if (value === null || type === 'boolean' || type === 'string') return value;
    if (type === 'number') {
      return Number.isFinite(value) && !Object.is(value, -0) ? value : { $: 'number', v: String(Object.is(value, -0) ? '-0' : value) };
    }
    if (type === 'bigint') return { $: 'bigint', v: String(value) };
    if (type === 'undefined') return { $: 'undefined' };
    if (type === 'object' && Array.isArray(value) && exact(value, Array.prototype)) {
      return value.map((item) => this.encode(item, depth + 1));
    }
    if (type === 'object' && (exact(value, Object.prototype) || exact(value, null))) {
      return { $: 'object', v: Object.keys(value).map((key) => [key, this.encode(value[key], depth + 1)]) };
    }
    if (type === 'object' && value instanceof Map && exact(value, Map.prototype)) {
      return { $: 'map', v: [...value].map(([k, v]) => [this.encode(k, depth + 1), this.encode(v, depth + 1)]) };
    }
    if (type === 'object' && value instanceof Set && exact(value, Set.prototype)) {
      return { $: 'set', v: [...value].map((item) => this.encode(item, depth + 1)) };
    }
    return this.encodeObject(value);
  }

  decode(value, depth = 0) {
    if (depth > DEPTH) throw new ProtocolError('a value is nested too deeply');
    const type = typeof value;
    if (value === null || type === 'boolean' || type === 'string' || type === 'number') return value;
    if (Array.isArray(value)) return value.map((item) => this.decode(item, depth + 1));
    if (type !== 'object' || typeof value.$ !== 'string') throw new ProtocolError('a value is not one the protocol knows');
    const body = value.v;
    switch (value.$) {
      case 'number': return body === '-0' ? -0 : Number(body);
      case 'bigint': return BigInt(body);
      case 'undefined': return undefined;
      case 'object': {
        const out = {};
        for (const [key, item] of body) {
          Object.defineProperty(out, String(key), { value: this.decode(item, depth + 1), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      case 'map': return new Map(body.map(([k, v]) => [this.decode(k, depth + 1), this.decode(v, depth + 1)]));
      case 'set': return new Set(body.map((item) => this.decode(item, depth + 1)));
      default: return this.decodeObject(value, depth);
    }
  }
}

/** Symbols that may name a property across the two sides (others cannot). */
const SYMBOLS = ['iterator', 'asyncIterator', 'toStringTag'];

function encodeKey(key) {
  if (typeof key !== 'symbol') return String(key);
  const name = SYMBOLS.find((item) => Symbol[item] === key);
  return name === undefined ? null : { $: 'symbol', name };
}

function decodeKey(key) {
  if (key !== null && typeof key === 'object' && SYMBOLS.includes(key.name)) return Symbol[key.name];
  return String(key);
}

// --- the tester's side ------------------------------------------------------------------

let current = null;

/** A learner's module, as the proxy modules the test files import see it. */
export function moduleMirror(id) {
  return current.mirror({ id, kind: 'object', name: 'module', methods: [], chain: [] });
}

export class Tester extends Codec {
  constructor(send, receive) {
    super();
    this.send = send;
    this.receive = receive;
    this.mirrors = new Map();
    this.callbacks = [];
    this.errorClasses = new Map();
    this.prototypes = new Map();
    current = this;
  }

  request(message) {
    this.send(message);
    for (;;) {
      const reply = this.receive();
      if (reply === null || typeof reply !== 'object') throw new ProtocolError('a message is not an object');
      if ('answer' in reply || 'raise' in reply) return reply;
      if (reply.op === 'callback') {
        this.send(this.serveCallback(reply));
        continue;
      }
      throw new ProtocolError('the other side sent a message that is neither an answer nor a request');
    }
  }

  ask(message) {
    const reply = this.request(message);
    if ('raise' in reply) {
      const error = this.exception(reply.raise);
      if (reply.async) return Promise.reject(error);
      throw error;
    }
    const value = this.decode(reply.answer);
    return reply.async ? Promise.resolve(value) : value;
  }

  serveCallback(message) {
    const fn = this.callbacks[message.target];
    if (typeof fn !== 'function') return { raise: { builtin: 'TypeError', message: 'no such callback' } };
    try {
      const args = (message.args || []).map((arg) => this.decode(arg));
      return { answer: this.encode(Reflect.apply(fn, undefined, args)) };
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      return { raise: { builtin: 'Error', message: `the test's function threw ${String(error?.message ?? error)}` } };
    }
  }

  encodeObject(value) {
    const ref = (typeof value === 'object' || typeof value === 'function') ? value[REF] : undefined;
    if (typeof ref === 'number') return { $: 'ref', id: ref };
    if (typeof value === 'function') {
      this.callbacks.push(value);
      return { $: 'callback', id: this.callbacks.length - 1 };
    }
    const name = value?.constructor?.name ?? typeof value;
    throw new TypeError(`cannot pass a ${name} to the submission: pass plain data (numbers, strings, arrays, plain objects, Maps, Sets), a function, or an object the submission made`);
  }

  decodeObject(value) {
    if (value.$ === 'ref' && Number.isInteger(value.id)) return this.mirror(value);
    if (value.$ === 'callback' && typeof this.callbacks[value.id] === 'function') return this.callbacks[value.id];
    throw new ProtocolError(`a value is not one the protocol knows (${String(value.$)})`);
  }

  /** The mirror of a learner's object or function, one per learner object. */
  mirror(description) {
    const { id } = description;
    if (this.mirrors.has(id)) return this.mirrors.get(id);
    const names = Array.isArray(description.methods) ? description.methods.filter((name) => typeof name === 'string') : [];
    const chain = Array.isArray(description.chain) ? description.chain.filter(Number.isInteger) : [];
    const target = description.kind === 'function' ? class {} : {};
    const side = this;
    const key = String(description.name);
    if (!this.prototypes.has(key)) this.prototypes.set(key, Object.create(null));
    const proto = this.prototypes.get(key);
    const methods = new Map();
    const proxy = new Proxy(target, {
      get(t, property) {
        if (property === REF) return id;
        if (property === CHAIN) return chain;
        if (property === Symbol.hasInstance) return (value) => Boolean(value?.[CHAIN]?.includes(id));
        if (property === Symbol.toPrimitive) {
          return (hint) => {
            if (hint === 'string') return side.ask({ op: 'string', target: id });
            throw new TypeError("an object of the submission's has no primitive value");
          };
        }
        if (property === 'then') return undefined; // a mirror is not a promise
        if (typeof property === 'string' && names.includes(property)) {
          if (!methods.has(property)) {
            methods.set(property, function (...args) {
              return side.ask({ op: 'method', target: id, name: property, args: args.map((arg) => side.encode(arg)) });
            });
          }
          return methods.get(property);
        }
        const encoded = encodeKey(property);
        if (encoded === null) return undefined;
        return side.ask({ op: 'get', target: id, name: encoded });
      },
      set(t, property, value) {
        side.ask({ op: 'set', target: id, name: encodeKey(property), value: side.encode(value) });
        return true;
      },
      has(t, property) {
        return Boolean(side.ask({ op: 'has', target: id, name: encodeKey(property) }));
      },
      deleteProperty(t, property) {
        return Boolean(side.ask({ op: 'delete', target: id, name: encodeKey(property) }));
      },
      ownKeys(t) {
        const keys = side.ask({ op: 'keys', target: id });
        const own = Reflect.ownKeys(t).filter((k) => !Reflect.getOwnPropertyDescriptor(t, k).configurable);
        return [...new Set([...(Array.isArray(keys) ? keys.map(String) : []), ...own])];
      },
      getOwnPropertyDescriptor(t, property) {
        const fixed = Reflect.getOwnPropertyDescriptor(t, property);
        if (fixed && !fixed.configurable) return fixed;
        if (!side.ask({ op: 'has', target: id, name: encodeKey(property), own: true })) return undefined;
        return { value: proxy[property], writable: true, enumerable: true, configurable: true };
      },
      getPrototypeOf() {
        return proto;
      },
      apply(t, self, args) {
        return side.ask({ op: 'call', target: id, self: self === undefined ? undefined : side.encode(self), args: args.map((arg) => side.encode(arg)) });
      },
      construct(t, args) {
        return side.ask({ op: 'construct', target: id, args: args.map((arg) => side.encode(arg)) });
      },
    });
    this.mirrors.set(id, proxy);
    return proxy;
  }

  /** The error a learner's throw becomes here: a real Error of the same built-in class
   * (or a class named like the learner's, deriving from its built-in base). */
  exception(description) {
    if (description === null || typeof description !== 'object') throw new ProtocolError('an error is not an object');
    if ('value' in description) return this.decode(description.value);
    const builtins = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError };
    const message = String(description.message ?? '');
    const base = builtins[description.builtin] ?? builtins[description.base] ?? Error;
    let error;
    if (builtins[description.builtin]) {
      error = new base(message);
    } else {
      const name = String(description.name ?? 'Error');
      if (!this.errorClasses.has(name)) {
        const cls = class extends base {};
        Object.defineProperty(cls, 'name', { value: name });
        this.errorClasses.set(name, cls);
      }
      error = new (this.errorClasses.get(name))(message);
      Object.defineProperty(error, 'name', { value: name, enumerable: false, writable: true, configurable: true });
    }
    const chain = Array.isArray(description.chain) ? description.chain.filter(Number.isInteger) : [];
    Object.defineProperty(error, CHAIN, { value: chain });
    if (Array.isArray(description.properties)) {
      for (const [key, item] of description.properties) {
        if (typeof key === 'string' && !['name', 'message', 'stack'].includes(key)) {
          try { error[key] = this.decode(item); } catch (_) { /* a property that cannot be decoded stays away */ }
        }
      }
    }
    if (typeof description.stack === 'string' && description.stack) {
      error.stack = `${error.stack}\n  the submission's stack:\n${description.stack.slice(-4000)}`;
    }
    return error;
  }
}

// --- the learner's side -----------------------------------------------------------------

export class Learner extends Codec {
  constructor(send, receive, app) {
    super();
    this.send = send;
    this.receive = receive;
    this.app = app;
    this.objects = [];
    this.handles = new Map();
  }

  handle(value) {
    if (!this.handles.has(value)) {
      this.handles.set(value, this.objects.length);
      this.objects.push(value);
    }
    return this.handles.get(value);
  }

  /** The handles of the classes `value` is an instance of (for `instanceof`), and the
   * methods its prototypes define (called in one message). */
  describe(value) {
    const chain = [];
    const methods = new Set();
    let proto = Object.getPrototypeOf(value);
    while (proto && proto !== Object.prototype && proto !== Function.prototype) {
      const ctor = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value;
      if (typeof ctor === 'function') chain.push(this.handle(ctor));
      for (const name of Object.getOwnPropertyNames(proto)) {
        const descriptor = Object.getOwnPropertyDescriptor(proto, name);
        if (name !== 'constructor' && typeof descriptor.value === 'function') methods.add(name);
      }
      proto = Object.getPrototypeOf(proto);
    }
    return chain.length || methods.size ? { chain, methods: [...methods] } : { chain, methods: [] };
  }

  encodeObject(value) {
    const { chain, methods } = typeof value === 'object' || typeof value === 'function' ? this.describe(value) : { chain: [], methods: [] };
    const name = typeof value === 'function' ? value.name : value?.constructor?.name;
    return {
      $: 'ref', id: this.handle(value), kind: typeof value === 'function' ? 'function' : 'object',
      name: typeof name === 'string' ? name : 'object', methods, chain,
    };
  }

  decodeObject(value) {
    if (value.$ === 'ref' && Number.isInteger(value.id) && value.id < this.objects.length) return this.objects[value.id];
    if (value.$ === 'callback' && Number.isInteger(value.id)) {
      const learner = this;
      return function (...args) {
        const reply = learner.request({ op: 'callback', target: value.id, args: args.map((arg) => learner.encode(arg)) });
        if ('raise' in reply) throw new Error(String(reply.raise?.message ?? "the test's function failed"));
        return learner.decode(reply.answer);
      };
    }
    throw new ProtocolError(`unknown value ${String(value.$)}`);
  }

  request(message) {
    this.send(message);
    for (;;) {
      const reply = this.receive();
      if (reply === null) throw new ProtocolError('the tester stopped');
      if ('answer' in reply || 'raise' in reply) return reply;
      throw new ProtocolError('a callback was answered with a request');
    }
  }

  raised(error) {
    if (!(error instanceof Error)) return { raise: { value: this.encode(error) } };
    const ctor = error.constructor;
    const builtin = typeof ctor?.name === 'string' && globalThis[ctor.name] === ctor ? ctor.name : undefined;
    let base = Object.getPrototypeOf(error);
    while (base && !(typeof base.constructor === 'function' && globalThis[base.constructor.name] === base.constructor)) {
      base = Object.getPrototypeOf(base);
    }
    const lines = String(error.stack ?? '').split('\n').filter((line) => line.includes(this.app));
    const properties = [];
    for (const key of Object.keys(error)) {
      try { properties.push([key, this.encode(error[key])]); } catch (_) { /* left out */ }
    }
    return {
      raise: {
        builtin, base: base?.constructor?.name, name: String(error.name), message: String(error.message),
        stack: lines.join('\n'), chain: this.describe(error).chain, properties,
      },
    };
  }

  async serve(message) {
    let value;
    try {
      value = message.op === 'import' ? await this.importModule(message.module) : this.run(message);
    } catch (error) {
      return this.raised(error);
    }
    // An async function's promise is awaited here: the test gets a settled promise.
    if (!(value instanceof Promise)) return { answer: this.encode(value) };
    try {
      return { answer: this.encode(await value), async: true };
    } catch (error) {
      return { ...this.raised(error), async: true };
    }
  }

  /** A learner's module: its handle and its export names (the tester's proxy module
   * declares them). */
  async importModule(name) {
    const { pathToFileURL } = await import('node:url');
    const namespace = await import(pathToFileURL(this.app + name).href);
    return { id: this.handle(namespace), exports: Object.keys(namespace) };
  }

  /** Runs one request with the learner's objects. */
  run(message) {
    const target = Number.isInteger(message.target) ? this.objects[message.target] : undefined;
    const args = (message.args || []).map((arg) => this.decode(arg));
    const key = message.name === undefined ? undefined : decodeKey(message.name);
    switch (message.op) {
      case 'get': return target[key];
      case 'set': target[key] = this.decode(message.value); return true;
      case 'has': return message.own ? Object.prototype.hasOwnProperty.call(target, key) : key in target;
      case 'delete': return delete target[key];
      case 'keys': return Object.keys(target);
      case 'string': return String(target);
      case 'call': return Reflect.apply(target, message.self === undefined ? undefined : this.decode(message.self), args);
      case 'construct': return Reflect.construct(target, args);
      case 'method': return target[key](...args);
      default: throw new ProtocolError(`unknown request ${String(message.op)}`);
    }
  }
}
