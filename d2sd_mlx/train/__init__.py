"""Training DFlash and VP drafters in MLX: self-distilled data, block objectives, the loop."""
