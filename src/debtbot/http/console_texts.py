GREEK: dict[str, str] = {}
