"""zoo-vision: image classifiers for zoo (cnn, resnet), the digits and image-folder datasets and their trainer.

The registry reads the declarations from ``zoo_vision._plugin``. This package
module imports no torch, so listing stays cheap; the implementations live in
``zoo_vision.cnn``, ``zoo_vision.resnet``, ``zoo_vision.digits``,
``zoo_vision.image_folder`` and ``zoo_vision.classification``.
"""

from .options import ClassificationOptions, CNNOptions, DigitsOptions, ImageFolderOptions, ResNetOptions

__version__ = "0.1.0"

__all__ = ["CNNOptions", "ClassificationOptions", "DigitsOptions", "ImageFolderOptions", "ResNetOptions", "__version__"]
