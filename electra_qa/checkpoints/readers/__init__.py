"""File readers with no knowledge of any model or key naming: TensorFlow tensor bundles and safetensors."""
