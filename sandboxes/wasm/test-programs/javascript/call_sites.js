// D5 (wrong_answer): reach the harness's emit through V8-style call sites, from a getter
// the harness would run while it writes a frame. prepareStackTrace is locked.
export function solve() {
  let forged = false;
  try {
    Error.prepareStackTrace = (error, sites) => {
      for (const site of sites) {
        const fn = site.getFunction && site.getFunction();
        if (fn && fn.name === "emit") {
          fn({ event: "end", case: 0, ok: true, value: "sandbox held" });
          forged = true;
        }
      }
      return "";
    };
  } catch (_) {}
  const push = Array.prototype.push;
  Array.prototype.push = function (...items) {
    Array.prototype.push = push;
    return push.call(this, { get trap() { new Error().stack; return 1; } });
  };
  return forged ? "sandbox held" : "wrong";
}
