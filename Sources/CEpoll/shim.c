// Intentionally empty: the header is the whole target.
