import express from 'express';

const app = express();
app.use(express.json());

const notes = [];
let nextId = 1;

app.get('/health', (req, res) => res.json({ ok: true }));

app.get('/notes', (req, res) => {
  const tag = req.query.tag;
  const listed = tag ? notes.filter((note) => note.tags.includes(tag)) : notes;
  res.set('X-Total-Count', String(listed.length));
  res.json({ notes: listed });
});

app.post('/notes', (req, res) => {
  const { text, tags = [] } = req.body ?? {};
  if (typeof text !== 'string' || text.trim() === '') {
    return res.status(422).json({ error: 'text is required' });
  }
  const note = { id: nextId++, text, tags };
  notes.push(note);
  res.status(201).json(note);
});

app.delete('/notes/:id', (req, res) => {
  const index = notes.findIndex((note) => note.id === Number(req.params.id));
  if (index === -1) return res.status(404).json({ error: 'no such note' });
  notes.splice(index, 1);
  res.status(204).end();
});

app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
