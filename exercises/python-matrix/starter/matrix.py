def transpose(matrix):
    """Return the transpose of `matrix`, a list of equally long rows."""
    result = []
    for row in matrix:
        # TODO: rows of the input should become columns of the result
        result.append(list(row))
    return result
