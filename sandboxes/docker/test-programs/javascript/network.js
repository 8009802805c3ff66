// B1: the internet, the bridge gateway and the metadata address must be unreachable.
import net from 'node:net';
import dns from 'node:dns/promises';
const targets = [['1.1.1.1', 53], ['172.17.0.1', 2375], ['169.254.169.254', 80]];
const reached = [];
await Promise.all(targets.map(([host, port]) => new Promise((resolve) => {
  const socket = net.connect({ host, port, timeout: 1000 });
  socket.on('connect', () => { reached.push(`${host}:${port}`); socket.destroy(); resolve(); });
  socket.on('error', resolve);
  socket.on('timeout', () => { socket.destroy(); resolve(); });
})));
try { await dns.lookup('example.com'); reached.push('dns'); } catch {}
console.log(reached.length === 0 ? 'sandbox held' : `escaped: ${reached}`);
