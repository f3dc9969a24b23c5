"""`diffloom serve`: placeholder until the server lands."""


def serve(argv: list[str]) -> int:
    print("diffloom serve: the server is not built yet")
    return 0
