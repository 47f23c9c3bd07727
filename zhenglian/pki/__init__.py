"""Certificate facts: organisation, 统一社会信用代码, validity, key type."""
