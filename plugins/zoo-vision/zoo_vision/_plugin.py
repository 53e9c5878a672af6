"""Declarations of the components this plugin provides. Importing this module must stay cheap (no torch)."""

from __future__ import annotations

from zoo_registry import ComponentSpec, hookimpl

TASK = "image-classification"


@hookimpl
def zoo_components() -> list[ComponentSpec]:
    return [
        ComponentSpec("cnn", "architecture", "zoo_vision.cnn:build_cnn", TASK,
                      "Conv → norm → activation → pooling blocks and a linear classifier head",
                      "zoo_vision.options:CNNOptions"),
        ComponentSpec("resnet", "architecture", "zoo_vision.resnet:build_resnet", TASK,
                      "Small residual network of basic blocks for 8x8 to 64x64 images",
                      "zoo_vision.options:ResNetOptions"),
        ComponentSpec("digits", "dataset", "zoo_vision.digits:DigitsDataset", TASK,
                      "scikit-learn's bundled 8x8 handwritten digits, 1,797 images of 10 classes",
                      "zoo_vision.options:DigitsOptions"),
        ComponentSpec("image-folder", "dataset", "zoo_vision.image_folder:ImageFolderDataset", TASK,
                      "Images in one sub-folder per class, read with Pillow",
                      "zoo_vision.options:ImageFolderOptions"),
        ComponentSpec("image-classification", "trainer", "zoo_vision.classification:ImageClassificationTrainer", TASK,
                      "Cross-entropy with label smoothing; accuracy, top-k, precision, recall, confusion matrix",
                      "zoo_vision.options:ClassificationOptions"),
    ]
