"""The server starts without importing torch, diffusers or transformers (they load when a node first needs them)."""

import subprocess
import sys

CHECK = """
import sys
from diffloom.config import parse_config
import runtime
from web.server.app import create_app
from web.server.plugins import load_node_registry

config = parse_config(["--base-directory", sys.argv[1]])
registry = load_node_registry(config)
create_app(config, registry, runtime.configure(paths=runtime.Paths.create(sys.argv[1])).paths)
registry.object_info()
print(sorted(m for m in ("torch", "diffusers", "transformers") if m in sys.modules))
"""


def test_building_the_app_and_object_info_import_no_heavy_library(tmp_path):
    out = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
