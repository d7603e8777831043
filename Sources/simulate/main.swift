print("simulate: not yet implemented")
