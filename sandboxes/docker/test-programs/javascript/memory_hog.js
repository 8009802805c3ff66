// A4: hold 1 GiB of buffers.
const chunks = [];
for (let i = 0; i < 1024; i++) chunks.push(Buffer.alloc(1024 * 1024, 1));
console.log(`escaped: ${chunks.length} MiB`);
