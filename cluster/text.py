"""Redis answers bytes or text, as the client was made; parta reads both as text."""


def text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
