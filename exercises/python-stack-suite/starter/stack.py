class Stack:
    """A last-in, first-out stack."""

    def __init__(self):
        self._items = []

    def push(self, item):
        """Put `item` on top of the stack."""
        raise NotImplementedError

    def pop(self):
        """Remove and return the top item; raise IndexError when empty."""
        raise NotImplementedError

    def peek(self):
        """Return the top item without removing it; raise IndexError when empty."""
        raise NotImplementedError

    def __len__(self):
        """Return the number of items on the stack."""
        raise NotImplementedError

    def is_empty(self):
        """Return True when the stack holds no items."""
        raise NotImplementedError
