export class Queue {
  #items = [];
  #capacity;

  constructor(capacity) {
    if (!Number.isInteger(capacity) || capacity <= 0) {
      throw new RangeError('capacity must be a positive integer');
    }
    this.#capacity = capacity;
  }

  push(item) {
    if (this.#items.length >= this.#capacity) throw new Error('the queue is full');
    this.#items.push(item);
  }

  shift() {
    return this.#items.shift();
  }

  peek() {
    return this.#items[0];
  }

  get size() {
    return this.#items.length;
  }

  isEmpty() {
    return this.#items.length === 0;
  }
}
