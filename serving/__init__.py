"""Number Visualizer's inference service: onnxruntime behind a small Starlette app."""
