"""Source text of small node classes for the packs the plugin tests write."""

import textwrap


def node_class(name: str, value: str = "1", category: str = "tests") -> str:
    """Source of a V1 node class `name` with no inputs returning the INT expression `value`."""
    return textwrap.dedent(f"""
        class {name}:
            CATEGORY = "{category}"
            RETURN_TYPES = ("INT",)
            FUNCTION = "run"

            @classmethod
            def INPUT_TYPES(cls):
                return {{"required": {{}}}}

            def run(self):
                return ({value},)
        """)
