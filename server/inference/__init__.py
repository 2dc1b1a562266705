"""Classify an uploaded image and explain it: decoding, saliency, nearest training images.

The pure work lives here (no HTTP, no processes): `decode_image` (image.py), `classify`
(explain.py), `embed` and `FeatureIndex` (retrieval.py). `live.py` serves them from the live
run's mirrored weights; the CLI's `classify` uses them on a checkpoint.
"""

from .explain import Classification, classify, gradcam_layer
from .image import MAX_BYTES, MAX_PIXELS, Crop, Decoded, ImageError, decode_image
from .retrieval import FeatureIndex, embed, feature_layer

__all__ = ["MAX_BYTES", "MAX_PIXELS", "Classification", "Crop", "Decoded", "FeatureIndex", "ImageError",
           "classify", "decode_image", "embed", "feature_layer", "gradcam_layer"]
