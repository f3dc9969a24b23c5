"""A pure-Python custom node pack for server subprocess tests and bench/server.py (copied into custom_nodes)."""

import time
from pathlib import Path

import folder_paths


class PersistNumber:
    CATEGORY = "test"
    RETURN_TYPES = ("INT",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0}), "delay": ("FLOAT", {"default": 0.0})}}

    def run(self, value, delay):
        time.sleep(delay)
        return (value,)


class PersistSave:
    CATEGORY = "test"
    RETURN_TYPES = ()
    FUNCTION = "run"
    OUTPUT_NODE = True

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    def run(self, value):
        name = f"persist_{value}.txt"
        Path(folder_paths.get_output_directory(), name).write_text(str(value))
        return {"ui": {"texts": [name]}}


NODE_CLASS_MAPPINGS = {"PersistNumber": PersistNumber, "PersistSave": PersistSave}
