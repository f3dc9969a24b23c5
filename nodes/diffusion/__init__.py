"""Model runtime: checkpoint detection and conversion, diffusers/transformers networks, text encoding, VAE, devices."""
