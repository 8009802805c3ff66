def word_count(text):
    """Return a dict mapping each lower-case word of `text` to its count."""
    counts = {}
    # TODO: split on anything that is not a letter, digit or apostrophe,
    # and ignore case.
    for word in text.split(" "):
        counts[word] = 1
    return counts
