import os

from flask import Flask, jsonify, request

app = Flask(__name__)
todos = {}
next_id = 1


@app.get("/health")
def health():
    return {"ok": True}


@app.get("/todos")
def list_todos():
    return jsonify(list(todos.values()))


@app.post("/todos")
def create_todo():
    global next_id
    data = request.get_json(silent=True) or {}
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        return {"error": "title must be a non-empty string"}, 400
    todo = {"id": next_id, "title": title, "done": False}
    todos[next_id] = todo
    next_id += 1
    return todo, 201


@app.get("/todos/<int:todo_id>")
def read_todo(todo_id):
    if todo_id not in todos:
        return {"error": "no such to-do"}, 404
    return todos[todo_id]


@app.patch("/todos/<int:todo_id>")
def update_todo(todo_id):
    if todo_id not in todos:
        return {"error": "no such to-do"}, 404
    data = request.get_json(silent=True) or {}
    todo = todos[todo_id]
    if isinstance(data.get("title"), str) and data["title"].strip():
        todo["title"] = data["title"]
    if isinstance(data.get("done"), bool):
        todo["done"] = data["done"]
    return todo


@app.delete("/todos/<int:todo_id>")
def delete_todo(todo_id):
    if todos.pop(todo_id, None) is None:
        return {"error": "no such to-do"}, 404
    return "", 204


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
