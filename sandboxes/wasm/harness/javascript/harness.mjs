// verdict's JavaScript harness: runs learner code inside QuickJS-NG for WASI and reports
// observations to the host. It never sees expected values and never decides a verdict.
//
// The host writes one JSON request line on stdin (a fresh random nonce, the kind, the
// entrypoint, the number of cases). For the function kind each case's arguments follow
// on a line of their own, sent only once the case before has ended; for the io kind (one
// case per instance) the case's stdin follows the request. Every report is a
// frame on fd 1:  "\n" "\x1e" <nonce> " " <json> "\n". Learner output goes to the same
// stream; the host splits it at frames.
//
// The nonce and every function used to write frames are module-private bindings taken
// before the learner's module is imported: another module cannot read or rebind them.
// See sandboxes/README.md, "The result channel".
import * as std from "qjs:std";
import * as os from "qjs:os";

const out = std.out;
const puts = out.puts;
const flush = out.flush;
const stringify = JSON.stringify;
const parse = JSON.parse;
const apply = Reflect.apply;
const StringCtor = String;
const ObjectCtor = Object;
const isArray = Array.isArray;
const keysOf = Object.keys;
const defineProperty = Object.defineProperty;
const split = String.prototype.split;
const join = Array.prototype.join;
const filter = Array.prototype.filter;
const includes = String.prototype.includes;
const getPrototypeOf = Object.getPrototypeOf;
const objectPrototype = Object.prototype;
const isInteger = Number.isInteger;
const toExponential = Number.prototype.toExponential;
const isWellFormed = String.prototype.isWellFormed;
const toWellFormed = String.prototype.toWellFormed;
const bigintText = (value) => StringCtor(value);
/** Beyond this a Number is not an exact integer: it is written as a float. */
const EXACT = 2 ** 53;

// A stack trace with call sites would hand learner code the harness's own functions
// (CallSite.getFunction): V8-style stack formatting stays off for good.
defineProperty(Error, "prepareStackTrace", { value: undefined, writable: false, configurable: false });

/** Sets an own data property, never a setter a learner put on a prototype. */
function put(target, key, value) {
  defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

const request = parse(std.in.getline());
const marker = "\n\x1e" + request.nonce + " ";
delete request.nonce;
const { kind, entrypoint, count } = request;
const start = request.start || 0;
const getline = std.in.getline;
const stdin = std.in;

/**
 * JSON text of a value built by the harness (plain objects, arrays and primitives),
 * written with loops and captured functions only, so that learner changes to
 * prototypes (`toJSON`, `Array.prototype.join`, …) cannot change a frame.
 */
function encode(value) {
  if (value === null || value === undefined) return "null";
  const type = typeof value;
  if (type === "string") return stringify(apply(toWellFormed, value, []));
  if (type === "number") {
    // 2**60 prints as digits, but a Number that large is not an exact integer.
    if (isInteger(value) && (value >= EXACT || value <= -EXACT)) {
      return apply(toExponential, value, []);
    }
    return stringify(value);
  }
  if (type === "bigint") return bigintText(value);
  if (type === "boolean") return stringify(value);
  if (type !== "object") return "null";
  let text;
  if (isArray(value)) {
    text = "[";
    for (let i = 0; i < value.length; i++) text += (i ? "," : "") + encode(value[i]);
    return text + "]";
  }
  const keys = keysOf(value);
  text = "{";
  for (let i = 0; i < keys.length; i++) {
    text += (i ? "," : "") + stringify(keys[i]) + ":" + encode(value[keys[i]]);
  }
  return text + "}";
}

function emit(event) {
  apply(flush, out, []);
  apply(puts, out, [marker + encode(event) + "\n"]);
  apply(flush, out, []);
}

/** A copy of a returned value made of JSON's own types, or an explanation. */
function plain(value, depth) {
  if (depth > 100) throw new TypeError("the value is nested too deeply");
  if (value === null) return null;
  const type = typeof value;
  if (type === "boolean") return value;
  if (type === "string") {
    if (!apply(isWellFormed, value, [])) {
      throw new TypeError("a string holds a lone surrogate (such as '\\ud800'), which is not Unicode text");
    }
    return value;
  }
  // A BigInt is an exact integer of any size.
  if (type === "bigint") return value;
  if (type === "number") {
    if (value !== value || value === Infinity || value === -Infinity) {
      throw new TypeError(`${value} cannot be represented in JSON`);
    }
    return value;
  }
  if (type === "undefined") throw new TypeError("the function returned undefined");
  if (type === "function" || type === "symbol") throw new TypeError(`a ${type} is not JSON`);
  if (isArray(value)) {
    const copy = [];
    const length = value.length;
    for (let i = 0; i < length; i++) put(copy, i, plain(value[i], depth + 1));
    return copy;
  }
  const proto = getPrototypeOf(value);
  if (proto !== objectPrototype && proto !== null) {
    const name = value.constructor && value.constructor.name;
    throw new TypeError(`an object of class ${name || "?"} is not JSON: return plain objects and arrays`);
  }
  const copy = {};
  const keys = keysOf(value);
  for (let i = 0; i < keys.length; i++) put(copy, plain(keys[i], depth + 1), plain(value[keys[i]], depth + 1));
  return copy;
}

/** A string, or the fallback when learner code made it something else. */
function text(value, fallback) {
  return typeof value === "string" ? value : fallback;
}

/** Name, message and stack of a thrown value, through learner files only. */
function describe(error) {
  let name = "Error";
  let message = "";
  let stack = "";
  try {
    if (error !== null && (typeof error === "object" || typeof error === "function")) {
      name = text(StringCtor(error.name || "Error"), "Error");
      message = text(StringCtor(error.message ?? ""), "");
      const lines = apply(split, text(StringCtor(error.stack || ""), ""), ["\n"]);
      const own = apply(filter, lines, [(line) => typeof line === "string" && apply(includes, line, ["/submission/"])]);
      stack = text(apply(join, own, ["\n"]), "");
    } else {
      name = "Thrown";
      message = text(StringCtor(error), "");
    }
  } catch (_) {
    message = "(the exception could not be printed)";
  }
  const head = message ? `${name}: ${message}` : name;
  return {
    type: name.slice(0, 200),
    message: message.slice(0, 2000),
    traceback: (stack ? `${head}\n${stack}` : head).slice(-4000),
  };
}

/**
 * Parses every learner module without running any of it. Only this may report a
 * compile error: an error raised once learner code runs (a SyntaxError it builds from a
 * test's input, say) is that test's runtime error, shown only for visible tests.
 */
function parseError() {
  const [names] = os.readdir("/submission");
  for (const name of (names || []).sort()) {
    if (!name.endsWith(".js") && !name.endsWith(".mjs")) continue;
    const path = "/submission/" + name;
    const source = std.loadFile(path);
    if (source === null) return `cannot read ${path}`;
    try {
      std.evalScript(source, { compile_only: true, compile_module: true });
    } catch (error) {
      const { type, message } = describe(error);
      const line = typeof error.lineNumber === "number" ? `:${error.lineNumber}` : "";
      return `${path}${line}\n${type}: ${message}`;
    }
  }
  return null;
}

emit({ event: "ready" });
const syntax = parseError();
if (syntax !== null) {
  emit({ event: "compile_error", message: syntax });
  std.exit(0);
}

if (kind === "function") {
  emit({ event: "load" });
  let module;
  try {
    module = await import(entrypoint);
  } catch (error) {
    emit({ event: "load_error", error: describe(error) });
    std.exit(0);
  }
  const fn = module[request.function];
  if (typeof fn !== "function") {
    const file = entrypoint.split("/").pop();
    const message = `${file} exports no function named ${request.function} (use \`export function ${request.function}(...)\`)`;
    emit({ event: "load_error", error: { type: "ReferenceError", message, traceback: message } });
    std.exit(0);
  }
  for (let index = start; index < count; index++) {
    const args = parse(apply(getline, stdin, [])).args;
    emit({ event: "begin", case: index });
    let event;
    try {
      let result = fn(...args);
      if (result !== null && typeof result === "object" && typeof result.then === "function") {
        result = await result;
      }
      try {
        event = { event: "end", case: index, ok: true, value: plain(result, 0) };
      } catch (problem) {
        const message = `the return value: ${problem.message}`;
        event = { event: "end", case: index, ok: false, error: { type: "TypeError", message, traceback: message } };
      }
    } catch (error) {
      event = { event: "end", case: index, ok: false, error: describe(error) };
    }
    emit(event);
  }
  emit({ event: "done" });
} else if (kind === "io") {
  // One case per instance: an ES module runs once. Its stdin is what follows the request.
  emit({ event: "begin", case: start });
  let event = { event: "end", case: start, ok: true, exit: 0 };
  try {
    await import(entrypoint);
  } catch (error) {
    event = { event: "end", case: start, ok: false, error: describe(error) };
  }
  emit(event);
  emit({ event: "done" });
} else {
  emit({ event: "fault", message: `the JavaScript harness has no kind ${kind}` });
}
std.exit(0);
