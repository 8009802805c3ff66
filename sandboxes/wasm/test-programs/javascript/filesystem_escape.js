// B4/B13/D6 (accepted only if the sandbox holds): look for the host, the tests and the
// reference solution through every path a learner could try.
export function solve() {
  const found = [];
  for (const path of ["/", "..", "/submission/..", "/support", "/etc", "/proc", "/tmp"]) {
    const [names, error] = os.readdir(path);
    if (!error) for (const name of names) if (name !== "." && name !== "..") found.push(`${path}: ${name}`);
  }
  for (const path of ["/etc/passwd", "../etc/passwd", "/submission/../../etc/passwd", "/submission/../solution/main.js"]) {
    const file = std.open(path, "r");
    if (file) found.push(`read ${path}`);
  }
  if (std.open("/submission/planted.txt", "w")) found.push("wrote into /submission");
  const environment = Object.keys(std.getenviron());
  const leaked = found.filter((item) => /solution|passwd|wrote|exercise/.test(item));
  return leaked.length === 0 && environment.length === 0 ? "sandbox held" : `leaked: ${leaked} ${environment}`;
}
