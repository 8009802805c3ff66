export function decide(config, events) {
  const tokens = {};
  const result = [];
  for (const [t, client] of events) {
    if (!(client in tokens)) {
      tokens[client] = config.capacity;
    }
    // TODO: refill the bucket for the time since this client's last request,
    // never above config.capacity
    if (tokens[client] >= 1) {
      tokens[client] -= 1;
      result.push(true);
    } else {
      result.push(false);
    }
  }
  return result;
}
