import os

from flask import Flask, jsonify

app = Flask(__name__)
todos = []


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/todos")
def list_todos():
    return jsonify(todos)


# TODO: POST /todos, GET/PATCH/DELETE /todos/<id>

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
