"""Sampling math: model sampling, sigma schedules, solvers, guidance, noise and previews (torch)."""
