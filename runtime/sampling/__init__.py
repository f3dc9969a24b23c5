"""Sampling math (torch), one module per step of a run, top to bottom: `ksampler` (KSampler by name) → `guidance`
(the GUIDER) → `sample` (the run) → `samplers` (the SAMPLER) → `cfg_pp`, `unipc`, `solvers` (the step loops), drawing
on `noise`, `schedules`, `model_sampling`, `preview` and `names` (docs/sampling.md)."""
