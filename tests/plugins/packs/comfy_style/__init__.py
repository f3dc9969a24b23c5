"""A custom node pack written the way ComfyUI packs are, used unmodified by the plugin tests."""

from . import routes  # noqa: F401 - registers the pack's HTTP routes on PromptServer.instance
from .flow_nodes import NODE_CLASS_MAPPINGS as FLOW, NODE_DISPLAY_NAME_MAPPINGS as FLOW_NAMES
from .value_nodes import NODE_CLASS_MAPPINGS as VALUES, NODE_DISPLAY_NAME_MAPPINGS as VALUE_NAMES

NODE_CLASS_MAPPINGS = {**VALUES, **FLOW}
NODE_DISPLAY_NAME_MAPPINGS = {**VALUE_NAMES, **FLOW_NAMES}
WEB_DIRECTORY = "./js"
