import unittest

from stack import Stack


class StackTest(unittest.TestCase):
    def test_new_stack_is_empty(self):
        s = Stack()
        self.assertEqual(len(s), 0)
        self.assertTrue(s.is_empty())

    def test_push_then_pop(self):
        s = Stack()
        s.push(42)
        self.assertEqual(s.pop(), 42)
        self.assertTrue(s.is_empty())

    def test_pop_is_last_in_first_out(self):
        s = Stack()
        for item in ["a", "b", "c"]:
            s.push(item)
        self.assertEqual([s.pop(), s.pop(), s.pop()], ["c", "b", "a"])

    def test_pop_empty_raises_index_error(self):
        s = Stack()
        with self.assertRaises(IndexError):
            s.pop()
        s.push(1)
        s.pop()
        with self.assertRaises(IndexError):
            s.pop()

    def test_peek_does_not_remove(self):
        s = Stack()
        s.push(1)
        s.push(2)
        self.assertEqual(s.peek(), 2)
        self.assertEqual(s.peek(), 2)
        self.assertEqual(len(s), 2)
        self.assertEqual(s.pop(), 2)
        self.assertEqual(s.peek(), 1)

    def test_peek_empty_raises_index_error(self):
        with self.assertRaises(IndexError):
            Stack().peek()

    def test_len_and_is_empty_follow_pushes_and_pops(self):
        s = Stack()
        for n in range(100):
            s.push(n)
            self.assertEqual(len(s), n + 1)
            self.assertFalse(s.is_empty())
        for n in range(99, -1, -1):
            self.assertEqual(s.pop(), n)
            self.assertEqual(len(s), n)
        self.assertTrue(s.is_empty())

    def test_stacks_are_independent(self):
        a = Stack()
        b = Stack()
        a.push("only in a")
        self.assertEqual(len(a), 1)
        self.assertEqual(len(b), 0)
        self.assertTrue(b.is_empty())


if __name__ == "__main__":
    unittest.main()
