print("sandbox held"
