import subprocess
import sys


def test_cli_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "diffloom", "--help"], capture_output=True, text=True, check=True)
    for command in ("serve", "run", "convert"):
        assert command in out.stdout


def test_nodes_package_exposes_comfyui_names():
    import nodes

    assert nodes.MAX_RESOLUTION == 16384
    assert isinstance(nodes.NODE_CLASS_MAPPINGS, dict)
    assert isinstance(nodes.NODE_DISPLAY_NAME_MAPPINGS, dict)
