def transpose(matrix):
    """Return the transpose of `matrix`, a list of equally long rows."""
    return [list(column) for column in zip(*matrix)]
