export class Queue {
  constructor(capacity) {
    this.items = [];
    this.capacity = capacity;
  }

  push(item) {
    this.items.unshift(item);
  }

  shift() {
    return this.items.shift();
  }

  get size() {
    return this.items.length;
  }

  isEmpty() {
    return this.items.length === 0;
  }
}
