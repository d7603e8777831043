print("kvd: not yet implemented")
