# D2/D10 (wrong_answer): replace json, print and builtins, then answer wrongly.
import builtins
import json
import sys

json.dumps = lambda *args, **kwargs: '"sandbox held"'
json.JSONEncoder.encode = lambda self, value: '"sandbox held"'
builtins.print = lambda *args, **kwargs: None
builtins.isinstance = lambda *args: True
builtins.type = lambda *args: str
sys.modules["json"] = None


def solve():
    return "wrong"
