# The instructor's test file of the table's suite programs (kind = "suite"): each program
# is the learner's module `held`, and the one test below passes only if it really works.
import unittest

import held


class HeldTest(unittest.TestCase):
    def test_held(self):
        self.assertEqual(held.value(), "sandbox held")
        self.assertEqual(held.double(21), 42)
        self.assertEqual(held.double(-4), -8)
        with self.assertRaises(TypeError):
            held.double("x")
