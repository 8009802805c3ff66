import express from 'express';

const app = express();
app.use(express.json());

const notes = [];

app.get('/health', (req, res) => res.json({ ok: true }));

app.get('/notes', (req, res) => res.json({ notes }));

// TODO: POST /notes, DELETE /notes/:id, the ?tag= filter and X-Total-Count

app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1');
