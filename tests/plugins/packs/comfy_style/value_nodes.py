"""Plain V1 nodes: numbers, strings, lists, folder_paths combos, progress, async, custom validation, errors."""

import asyncio
import time

import comfy.model_management
import folder_paths
from comfy.comfy_types import IO, ComfyNodeABC, InputTypeDict
from comfy.utils import ProgressBar
from nodes import MAX_RESOLUTION

folder_paths.add_model_folder_path("test_styles", folder_paths.models_dir + "/test_styles")


class TestInt(ComfyNodeABC):
    @classmethod
    def INPUT_TYPES(cls) -> InputTypeDict:
        return {"required": {"value": (IO.INT, {"default": 0, "min": -MAX_RESOLUTION, "max": MAX_RESOLUTION})}}

    RETURN_TYPES = (IO.INT,)
    FUNCTION = "run"
    CATEGORY = "tests"

    def run(self, value):
        return (value,)


class TestAdd:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"a": ("INT", {"default": 0}), "b": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "add"
    CATEGORY = "tests"

    def add(self, a, b):
        return (a + b,)


class TestShow:
    """An output node: reports whatever it receives as text."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}}

    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True
    INPUT_IS_LIST = True
    CATEGORY = "tests"

    def show(self, value):
        return {"ui": {"text": [str(v) for v in value]}}


class TestSplitWords:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "a b"})}}

    RETURN_TYPES = ("STRING",)
    OUTPUT_IS_LIST = (True,)
    FUNCTION = "split"
    CATEGORY = "tests"

    def split(self, text):
        return (text.split(),)


class TestUpper:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"forceInput": True})}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "upper"
    CATEGORY = "tests"

    def upper(self, text):
        return (text.upper(),)


class TestJoinWords:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"words": ("STRING", {"forceInput": True}), "separator": ("STRING", {"default": "-"})}}

    RETURN_TYPES = ("STRING",)
    INPUT_IS_LIST = True
    FUNCTION = "join"
    CATEGORY = "tests"

    def join(self, words, separator):
        return (separator[0].join(words),)


class TestStyleFile:
    """A combo of the files in a model folder the pack registered itself, resolved with get_full_path_or_raise."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"style": (folder_paths.get_filename_list("test_styles"),)}}

    RETURN_TYPES = ("STRING",)
    FUNCTION = "read"
    CATEGORY = "tests"

    def read(self, style):
        with open(folder_paths.get_full_path_or_raise("test_styles", style)) as handle:
            return (handle.read().strip(),)


class TestCountSteps:
    """Reports progress once per step and honours interrupts between steps."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"steps": ("INT", {"default": 3, "min": 1, "max": 100})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "count"
    CATEGORY = "tests"

    def count(self, steps):
        bar = ProgressBar(steps)
        for _ in range(steps):
            comfy.model_management.throw_exception_if_processing_interrupted()
            bar.update(1)
        return (steps,)


class TestWait:
    """Sleeps `seconds` in ten steps, reporting progress (something to reload a pack under)."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0}), "seconds": ("FLOAT", {"default": 0.5})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "wait"
    CATEGORY = "tests"

    def wait(self, value, seconds):
        bar = ProgressBar(10)
        for _ in range(10):
            time.sleep(seconds / 10)
            bar.update(1)
        return (value,)


class TestAsyncDouble:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 1})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "double"
    CATEGORY = "tests"

    async def double(self, value):
        await asyncio.sleep(0.01)
        return (value * 2,)


class TestToText:
    """Accepts any linked type for `value` by asking for `input_types` in VALIDATE_INPUTS — except MODEL."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT",)}}

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        if input_types.get("value") == "MODEL":
            return "value cannot be a MODEL"
        return True

    RETURN_TYPES = ("STRING",)
    FUNCTION = "text"
    CATEGORY = "tests"

    def text(self, value):
        return (f"<{value}>",)


class TestExplode:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("INT", {"default": 0})}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "explode"
    CATEGORY = "tests"

    def explode(self, value):
        raise RuntimeError(f"kaboom at {value}")


NODE_CLASS_MAPPINGS = {cls.__name__: cls for cls in (
    TestInt, TestAdd, TestShow, TestSplitWords, TestUpper, TestJoinWords, TestStyleFile, TestCountSteps,
    TestAsyncDouble, TestToText, TestExplode, TestWait)}
NODE_DISPLAY_NAME_MAPPINGS = {"TestShow": "Show Anything"}
