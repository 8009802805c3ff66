import re

WORD = re.compile(r"[A-Za-z0-9']+")


def word_count(text):
    """Return a dict mapping each lower-case word of `text` to its count."""
    counts = {}
    for word in WORD.findall(text):
        word = word.lower()
        counts[word] = counts.get(word, 0) + 1
    return counts
