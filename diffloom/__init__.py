"""diffloom: a node-graph workflow editor and execution server for diffusion image models."""

__version__ = "0.1.0"
