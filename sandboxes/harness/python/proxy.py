"""verdict's proxy protocol, Python side: a suite's tests run in one interpreter (the
tester) and the learner's code in another (the learner's), so no learner code ever runs
where a test decides whether it passed.

The test files import the learner's module as usual; what they get is a proxy. Every
use of it (an attribute, a call, `len()`, `==`, iteration) becomes a message to the
learner's interpreter, which runs the real code and answers with a value. The two sides
exchange one JSON message per line, in strict turns (the host relays them and drops any
message that is not an answer to the other side's last one):

    tester -> learner   {"op": "import"|"getattr"|"setattr"|"delattr"|"call"|"method"|"builtin", ...}
    learner -> tester   {"answer": value} | {"raise": exception} | {"op": "callback", ...}

and a callback (a function the test passed to the learner's code) is answered the same
way in the other direction. Values are copied when they are plain data (None, bool, int,
float, str, bytes, list, tuple, dict, set, frozenset, of exactly those types) and passed
by reference otherwise: the tester holds a mirror of the learner's object, an instance
of a mirror class named like the learner's, and every operation on it is a message.

What a learner's answer can be is therefore data, never code: the tester decodes it
with `json` into plain values and mirrors, and nothing of the learner's runs there. A
learner object compares equal only to another learner object (by the learner's
`__eq__`), never to plain data, so an object whose `__eq__` is always true cannot pass
for an expected value. Written for CPython 3.11 and later (the Docker image) and 3.12
(WASI); the contract is sandboxes/README.md, "The suite kind".
"""

import base64
import builtins
import json
import operator
import sys
import traceback

DEPTH = 100
PLAIN = (type(None), bool, int, float, str, bytes, bytearray, list, tuple, dict, set, frozenset)


class ProtocolError(Exception):
    """A message that breaks the protocol (only the learner's side can send one)."""


class Channel:
    """One side of the conversation: requests go out, and while an answer is awaited,
    requests of the other side (callbacks, nested calls) are served in turn."""

    def __init__(self, send, receive, serve):
        self.send, self.receive, self.serve = send, receive, serve

    def request(self, message):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        self.send(message)
        while True:
            reply = self.receive()
            if type(reply) is not dict:
                raise ProtocolError("a message is not an object")
            if "answer" in reply:
                return reply
            if "raise" in reply:
                return reply
            if "op" in reply:
                self.send(self.serve(reply))
                continue
            raise ProtocolError("the other side sent a message that is neither an answer nor a request")


class Codec:
    """Plain data both ways; the two sides differ in what stands for an object."""

    def encode(self, value, depth=0):
        if depth > DEPTH:
            raise ValueError("the value is nested too deeply (or holds itself)")
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if value == value and value not in (float("inf"), float("-inf")) \
                else {"$": "float", "v": repr(value)}
        if kind is list:
            return [self.encode(item, depth + 1) for item in value]
        if kind in (tuple, set, frozenset):
            return {"$": kind.__name__, "v": [self.encode(item, depth + 1) for item in value]}
        if kind is dict:
            return {"$": "dict", "v": [[self.encode(k, depth + 1), self.encode(v, depth + 1)]
                                       for k, v in value.items()]}
        if kind in (bytes, bytearray):
            return {"$": kind.__name__, "v": base64.b64encode(value).decode("ascii")}
        return self.encode_object(value)

    def decode(self, value, depth=0):
        if depth > DEPTH:
            raise ProtocolError("a value is nested too deeply")
        kind = type(value)
        if value is None or kind in (bool, int, float, str):
            return value
        if kind is list:
            return [self.decode(item, depth + 1) for item in value]
        if kind is not dict or type(value.get("$")) is not str:
            raise ProtocolError("a value is not one the protocol knows")
        tag, body = value["$"], value.get("v")
        if tag == "float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("tuple", "set", "frozenset") and type(body) is list:
            items = [self.decode(item, depth + 1) for item in body]
            return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict" and type(body) is list:
            pairs = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("a dict entry is not a pair")
                pairs[self.decode(pair[0], depth + 1)] = self.decode(pair[1], depth + 1)
            return pairs
        if tag in ("bytes", "bytearray") and type(body) is str:
            data = base64.b64decode(body.encode("ascii"), validate=True)
            return data if tag == "bytes" else bytearray(data)
        return self.decode_object(value, depth)

    def encode_object(self, value):
        raise NotImplementedError

    def decode_object(self, value, depth):
        raise NotImplementedError


def dumps(message):
    return json.dumps(message, separators=(",", ":"))


# --- the tester's side -----------------------------------------------------------------

class RemoteError(Exception):
    """What a learner's exception becomes when its class is not a built-in exception and
    not one of the learner's own (SystemExit, KeyboardInterrupt, ...)."""


class RemoteType(type):
    """The metaclass of mirror classes: calling one constructs the learner's object, and
    class attributes (constants, static methods) are read from the learner's class."""

    def __call__(cls, *args, **kwargs):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return cls.__dict__["_verdict_side"].call(cls.__dict__["_verdict_ref"], args, kwargs)

    def __getattr__(cls, name):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        side = cls.__dict__.get("_verdict_side")
        if side is None:
            raise AttributeError(name)
        return side.ask({"op": "getattr", "target": cls.__dict__["_verdict_ref"], "name": name})

    def __repr__(cls):
        return f"<class {cls.__module__}.{cls.__qualname__} (the submission's)>"


def _remote(operation):
    def special(self, *args):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin(operation, (self,) + args)
    special.__name__ = f"__{operation}__"
    return special


def _reflected(operation):
    def special(self, other):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin(operation, (other, self))
    special.__name__ = f"__r{operation}__"
    return special


def _local(name):
    """Names a mirror keeps to itself: its own bookkeeping, and the dunders Python sets on
    any object (an exception's `__traceback__`, a module's `__spec__`)."""
    return name.startswith("_verdict") or name.startswith("__") and name.endswith("__")


class RemoteObject:
    """A mirror of one of the learner's objects. Attributes and special methods are
    answered by the learner's interpreter, but for the names `_local` keeps."""

    def __getattr__(self, name):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        if _local(name):
            raise AttributeError(name)
        return self._verdict_side.ask({"op": "getattr", "target": self._verdict_ref, "name": name})

    def __setattr__(self, name, value):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        if _local(name):
            return object.__setattr__(self, name, value)
        self._verdict_side.ask({"op": "setattr", "target": self._verdict_ref, "name": name,
                                "value": self._verdict_side.encode(value)})

    def __delattr__(self, name):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        if _local(name):
            return object.__delattr__(self, name)
        self._verdict_side.ask({"op": "delattr", "target": self._verdict_ref, "name": name})

    def __call__(self, *args, **kwargs):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.call(self._verdict_ref, args, kwargs)

    def __eq__(self, other):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        # A learner object equals only another learner object, by the learner's `__eq__`:
        # never plain data, so an object that claims to equal anything passes for nothing.
        if isinstance(other, RemoteObject):
            return self._verdict_side.builtin("eq", (self, other))
        return NotImplemented

    def __ne__(self, other):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        if isinstance(other, RemoteObject):
            return self._verdict_side.builtin("ne", (self, other))
        return NotImplemented

    def __hash__(self):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("hash", (self,))

    def __bool__(self):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("bool", (self,))

    def __str__(self):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("str", (self,))

    def __repr__(self):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("repr", (self,))

    def __format__(self, spec):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("format", (self, spec))

    def __enter__(self):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("enter", (self,))

    def __exit__(self, *exc_info):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self._verdict_side.builtin("exit", (self,))


for _name in ["len", "iter", "next", "reversed", "contains", "getitem", "setitem", "delitem",
              "lt", "le", "gt", "ge", "neg", "pos", "abs", "invert", "int", "float", "index",
              "round", "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "lshift", "rshift", "and", "or", "xor", "divmod"]:
    setattr(RemoteObject, f"__{_name}__", _remote(_name))
for _name in ["add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "lshift",
              "rshift", "and", "or", "xor", "divmod"]:
    setattr(RemoteObject, f"__r{_name}__", _reflected(_name))
del _name


class RemoteModule(type(sys)):
    """A learner's module: its attributes are read from the learner's interpreter (the
    same lookups as a mirror's)."""

    __getattr__ = RemoteObject.__getattr__
    __setattr__ = RemoteObject.__setattr__


class Tester(Codec):
    """The tester's end: mirrors for the learner's objects, callbacks for the test's
    functions, and the import hook that hands the test files proxies of the learner's
    modules."""

    def __init__(self, send, receive, modules):
        self.channel = Channel(send, receive, self.serve_callback)
        self.modules = frozenset(modules)
        self.mirrors = {}      # learner handle -> mirror
        self.classes = {}      # learner class handle -> mirror class
        self.callbacks = []    # index -> a function of the test's
        self.exceptions = {
            name: value for name, value in vars(builtins).items()
            if isinstance(value, type) and issubclass(value, Exception)
        }
        self.builtin_types = {
            name for name, value in vars(builtins).items() if isinstance(value, type)
        }

    # Requests.
    def ask(self, message):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        reply = self.channel.request(message)
        if "raise" in reply:
            raise self.exception(reply["raise"])
        return self.decode(reply["answer"])

    def call(self, ref, args, kwargs):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self.ask({"op": "call", "target": ref, "args": [self.encode(a) for a in args],
                         "kwargs": {k: self.encode(v) for k, v in kwargs.items()}})

    def method(self, ref, name, args, kwargs):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self.ask({"op": "method", "target": ref, "name": name,
                         "args": [self.encode(a) for a in args],
                         "kwargs": {k: self.encode(v) for k, v in kwargs.items()}})

    def builtin(self, name, args):
        __tracebackhide__ = True  # pytest shows the test's frames, not these
        return self.ask({"op": "builtin", "name": name, "args": [self.encode(a) for a in args]})

    def serve_callback(self, message):
        """The learner's code called a function the test passed to it."""
        index = message.get("target")
        if message.get("op") != "callback" or type(index) is not int \
                or not 0 <= index < len(self.callbacks):
            return {"raise": {"builtin": "TypeError", "args": ["no such callback"], "text": ""}}
        try:
            args = [self.decode(a) for a in message.get("args") or []]
            kwargs = {k: self.decode(v) for k, v in (message.get("kwargs") or {}).items()}
            return {"answer": self.encode(self.callbacks[index](*args, **kwargs))}
        except ProtocolError:
            raise
        except BaseException as error:
            text = f"{type(error).__name__}: {error}"
            return {"raise": {"builtin": "RuntimeError", "args": [f"the test's function raised {text}"],
                              "text": ""}}

    # Values.
    def encode_object(self, value):
        if isinstance(value, RemoteModule):
            return {"$": "ref", "id": value._verdict_ref}
        if isinstance(value, RemoteType) and "_verdict_ref" in value.__dict__:
            return {"$": "ref", "id": value.__dict__["_verdict_ref"]}
        if isinstance(value, RemoteObject):
            return {"$": "ref", "id": value._verdict_ref}
        if callable(value):
            self.callbacks.append(value)
            return {"$": "callback", "id": len(self.callbacks) - 1}
        raise TypeError(
            f"cannot pass a {type(value).__name__} to the submission: pass plain data "
            "(numbers, strings, lists, tuples, dicts, sets, bytes), a function, or an object "
            "the submission made")

    def decode_object(self, value, depth):
        tag = value["$"]
        if tag == "ref" and type(value.get("id")) is int:
            ref = value["id"]
            if ref not in self.mirrors:
                cls = self.mirror_class(value.get("class"), depth)
                mirror = (BaseException.__new__(cls) if issubclass(cls, BaseException)
                          else object.__new__(cls))
                object.__setattr__(mirror, "_verdict_ref", ref)
                self.mirrors[ref] = mirror
            return self.mirrors[ref]
        if tag == "class":
            return self.mirror_class(value.get("class"), depth)
        if tag == "module" and type(value.get("id")) is int and type(value.get("name")) is str:
            module = RemoteModule(value["name"])
            object.__setattr__(module, "_verdict_ref", value["id"])
            object.__setattr__(module, "_verdict_side", self)
            return module
        if tag == "callback" and type(value.get("id")) is int \
                and 0 <= value["id"] < len(self.callbacks):
            return self.callbacks[value["id"]]
        raise ProtocolError(f"a value is not one the protocol knows ({tag!r})")

    def mirror_class(self, description, depth):
        """The mirror of a learner's class, made once per class."""
        if depth > DEPTH:
            raise ProtocolError("a class is nested too deeply")
        if type(description) is not dict or type(description.get("id")) is not int:
            raise ProtocolError("a class description is not an object")
        ref = description["id"]
        if ref in self.classes:
            return self.classes[ref]
        name, qualname, module = (description.get(key) for key in ("name", "qualname", "module"))
        if not all(type(text) is str and 0 < len(text) < 200 for text in (name, qualname, module)):
            raise ProtocolError("a class has no usable name")
        bases = []
        for base in description.get("bases") or []:
            if type(base) is not str:
                bases.append(self.mirror_class(base, depth + 1))
            elif base in self.exceptions:
                # The learner's exception derives from a built-in one.
                bases.append(self.exceptions[base])
            elif base in self.builtin_types and issubclass(getattr(builtins, base), BaseException):
                # SystemExit and its kind: the mirror is a plain error, which can never
                # stop the tester.
                bases.append(Exception)
            # Other built-in bases (dict, list, ...) are not mirrored: the object is
            # used through messages like any other.
        if not any(issubclass(base, RemoteObject) for base in bases):
            bases.insert(0, RemoteObject)
        namespace = {"__module__": module, "__qualname__": qualname, "_verdict_ref": ref,
                     "_verdict_side": self}
        for method in description.get("methods") or []:
            if type(method) is str and method.isidentifier() and not method.startswith("__"):
                namespace[method] = self.method_of(method)
        try:
            cls = RemoteType(name, tuple(bases), namespace)
        except TypeError:
            # Built-in bases whose layouts clash: the mirror is a plain error.
            cls = RemoteType(name, (RemoteObject, Exception), namespace)
        self.classes[ref] = cls
        return cls

    def method_of(self, name):
        side = self

        def method(self, *args, **kwargs):
            __tracebackhide__ = True  # pytest shows the test's frames, not these
            return side.method(self._verdict_ref, name, args, kwargs)
        method.__name__ = name
        return method

    def exception(self, description):
        """The exception a learner's raise becomes on this side."""
        if type(description) is not dict:
            raise ProtocolError("an exception is not an object")
        args = description.get("args")
        args = tuple(self.decode(a) for a in args) if type(args) is list else ()
        builtin = description.get("builtin")
        if type(builtin) is str and builtin in self.exceptions:
            error = self.exceptions[builtin](*args)
        elif description.get("ref") is not None:
            error = self.decode({"$": "ref", "id": description["ref"], "class": description.get("class")})
            if not isinstance(error, BaseException):
                error = RemoteError(*args)
            else:
                BaseException.__init__(error, *args)
        else:
            name = builtin if type(builtin) is str else "an exception"
            error = RemoteError(f"the submission raised {name}", *args)
        text = description.get("traceback")
        if type(text) is str and text:
            error.add_note("The submission's traceback:\n" + text[-4000:])
        return error

    # The import hook (a meta path finder and loader for the learner's module names).
    def find_spec(self, name, path=None, target=None):
        if name not in self.modules:
            return None
        import importlib.machinery
        return importlib.machinery.ModuleSpec(name, self)

    def create_module(self, spec):
        return self.ask({"op": "import", "module": spec.name})

    def exec_module(self, module):
        pass


# --- the learner's side ----------------------------------------------------------------

class Learner(Codec):
    """The learner's end: serves the tester's requests with the learner's objects."""

    def __init__(self, send, receive, app_prefix):
        self.channel = Channel(send, receive, self.serve)
        self.app_prefix = app_prefix
        self.objects = []   # handle -> object (kept alive for the whole run)
        self.handles = {}   # id(object) -> handle
        self.functions = {
            "len": len, "iter": iter, "next": next, "reversed": reversed, "str": str,
            "repr": repr, "format": format, "hash": hash, "bool": bool, "int": int,
            "float": float, "index": operator.index, "round": round, "abs": abs,
            "neg": operator.neg, "pos": operator.pos, "invert": operator.invert,
            "contains": operator.contains, "getitem": operator.getitem,
            "setitem": operator.setitem, "delitem": operator.delitem, "eq": operator.eq,
            "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
            "ge": operator.ge, "add": operator.add, "sub": operator.sub, "mul": operator.mul,
            "truediv": operator.truediv, "floordiv": operator.floordiv, "mod": operator.mod,
            "pow": operator.pow, "matmul": operator.matmul, "lshift": operator.lshift,
            "rshift": operator.rshift, "and": operator.and_, "or": operator.or_,
            "xor": operator.xor, "divmod": divmod,
            "enter": lambda target: target.__enter__(),
            "exit": lambda target: target.__exit__(None, None, None),
        }

    def handle(self, value):
        key = id(value)
        if key not in self.handles:
            self.handles[key] = len(self.objects)
            self.objects.append(value)
        return self.handles[key]

    def describe(self, cls):
        bases = []
        for base in cls.__bases__:
            if base is object:
                continue
            if base.__module__ == "builtins":
                bases.append(base.__name__)
            else:
                bases.append(self.describe(base))
        methods = sorted({
            name for klass in cls.__mro__ if klass.__module__ != "builtins"
            for name, item in vars(klass).items()
            if type(item).__name__ == "function" and not name.startswith("__")
        })
        return {"id": self.handle(cls), "name": str(cls.__name__), "qualname": str(cls.__qualname__),
                "module": str(cls.__module__), "bases": bases, "methods": methods}

    def encode_object(self, value):
        if isinstance(value, type):
            return {"$": "class", "class": self.describe(value)}
        if isinstance(value, type(sys)):
            return {"$": "module", "id": self.handle(value), "name": str(value.__name__)}
        if isinstance(value, Callback):
            return {"$": "callback", "id": value.index}
        return {"$": "ref", "id": self.handle(value), "class": self.describe(type(value))}

    def decode_object(self, value, depth):
        tag = value["$"]
        if tag == "ref" and type(value.get("id")) is int and 0 <= value["id"] < len(self.objects):
            return self.objects[value["id"]]
        if tag == "callback" and type(value.get("id")) is int:
            return Callback(self, value["id"])
        raise ProtocolError(f"unknown value {tag!r}")

    def raised(self, error):
        kind = type(error)
        builtin = kind.__name__ if getattr(builtins, kind.__name__, None) is kind else None
        try:
            args = [self.encode(arg) for arg in error.args]
        except Exception:
            args = [str(error)]
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if frame.filename.startswith(self.app_prefix)]
        lines = traceback.format_list(frames[-40:]) + traceback.format_exception_only(kind, error)
        described = {"builtin": builtin, "args": args, "traceback": "".join(lines)[-4000:]}
        if builtin is None:
            described["ref"] = self.handle(error)
            described["class"] = self.describe(kind)
        return {"raise": described}

    def serve(self, message):
        try:
            return {"answer": self.encode(self.run(message))}
        except BaseException as error:
            return self.raised(error)

    def run(self, message):
        op = message.get("op")
        target = message.get("target")
        target = self.objects[target] if type(target) is int and 0 <= target < len(self.objects) else None
        args = [self.decode(a) for a in message.get("args") or []]
        kwargs = {k: self.decode(v) for k, v in (message.get("kwargs") or {}).items()}
        if op == "import":
            import importlib
            return importlib.import_module(message["module"])
        if op == "getattr":
            return getattr(target, message["name"])
        if op == "setattr":
            return setattr(target, message["name"], self.decode(message.get("value")))
        if op == "delattr":
            return delattr(target, message["name"])
        if op == "call":
            return target(*args, **kwargs)
        if op == "method":
            return getattr(target, message["name"])(*args, **kwargs)
        if op == "builtin":
            return self.functions[message["name"]](*args)
        raise ProtocolError(f"unknown request {op!r}")

    def serve_forever(self):
        while True:
            message = self.channel.receive()
            if message is None:
                return
            self.channel.send(self.serve(message))


class Callback:
    """A function of the test's, passed to the learner's code: calling it asks the
    tester to run it."""

    def __init__(self, learner, index):
        self.learner, self.index = learner, index

    def __call__(self, *args, **kwargs):
        learner = self.learner
        reply = learner.channel.request({
            "op": "callback", "target": self.index,
            "args": [learner.encode(a) for a in args],
            "kwargs": {k: learner.encode(v) for k, v in kwargs.items()}})
        if "raise" in reply:
            raise RuntimeError(str(reply["raise"].get("args", ["the test's function failed"])[0]))
        return learner.decode(reply["answer"])
