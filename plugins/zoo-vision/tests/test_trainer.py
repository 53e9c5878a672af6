"""The image-classification trainer on hand-checkable logits, and its confusion-matrix plot."""

from __future__ import annotations

import logging
import math

import pytest
import torch
from PIL import Image
from sklearn.metrics import precision_score, recall_score
from torch import nn

from zoo_registry import DataError
from zoo_vision.classification import ImageClassificationTrainer
from zoo_vision.options import ClassificationOptions

# Six images of three classes. The model is nn.Flatten, so an image of shape (3, 1, 1) is its own logits.
LOGITS = [[2.0, 1.0, 0.0], [1.0, 2.0, 0.0], [0.0, 2.0, 1.0], [0.0, 3.0, 1.0], [2.0, 0.0, 1.0], [0.0, 1.0, 3.0]]
LABELS = [0, 0, 1, 1, 2, 2]
# Predictions are 0, 1, 1, 1, 0, 2: images 1 and 4 are wrong, and their labels are the second-best logit.
INFO = {"num_classes": 3, "class_names": ["cat", "dog", "owl"], "in_channels": 3, "image_size": 1}


def _batch(rows=slice(None)) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.tensor(LOGITS)[rows].view(-1, 3, 1, 1)
    return images, torch.tensor(LABELS)[rows]


def _cross_entropy(logits: list[float], label: int) -> float:
    return math.log(sum(math.exp(v) for v in logits)) - logits[label]


def _sums(trainer, *batches) -> dict[str, torch.Tensor]:
    """Add eval sums over batches as the runner does, in float64."""
    totals: dict[str, torch.Tensor] = {}
    for batch in batches:
        for key, value in trainer.eval_sums(nn.Flatten(), batch).items():
            value = value.to(torch.float64)
            totals[key] = totals[key] + value if key in totals else value
    return totals


def test_trainer_declares_contract():
    trainer = ImageClassificationTrainer(ClassificationOptions(), INFO)
    assert trainer.primary_metric == "accuracy"
    assert trainer.higher_is_better is True
    assert trainer.unit == "images"
    assert trainer.count(_batch()) == 6


def test_trainer_eval_sums_by_hand():
    trainer = ImageClassificationTrainer(ClassificationOptions(top_k=2), INFO)
    sums = trainer.eval_sums(nn.Flatten(), _batch())
    assert int(sums["correct"]) == 4
    assert int(sums["top_k_correct"]) == 6
    assert int(sums["count"]) == 6
    assert sums["confusion"].tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    expected_loss = sum(_cross_entropy(row, label) for row, label in zip(LOGITS, LABELS))
    assert float(sums["loss_sum"]) == pytest.approx(expected_loss, rel=1e-6)


def test_trainer_metrics_by_hand():
    trainer = ImageClassificationTrainer(ClassificationOptions(top_k=2), INFO)
    metrics = trainer.metrics(_sums(trainer, _batch()))
    assert sorted(metrics) == ["accuracy", "loss", "macro_precision", "macro_recall", "top2_accuracy"]
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["top2_accuracy"] == 1.0
    # Precision per predicted class: 1/2, 2/3, 1/1; recall per true class: 1/2, 2/2, 1/2.
    assert metrics["macro_precision"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert metrics["macro_recall"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    expected_loss = sum(_cross_entropy(row, label) for row, label in zip(LOGITS, LABELS)) / 6
    assert metrics["loss"] == pytest.approx(expected_loss, rel=1e-6)


def test_trainer_sums_are_additive():
    trainer = ImageClassificationTrainer(ClassificationOptions(top_k=2, per_class_metrics=True), INFO)
    whole = trainer.metrics(_sums(trainer, _batch()))
    parts = trainer.metrics(_sums(trainer, _batch(slice(0, 4)), _batch(slice(4, 6))))
    assert parts == pytest.approx(whole)


def test_trainer_per_class_metrics():
    trainer = ImageClassificationTrainer(ClassificationOptions(per_class_metrics=True), INFO)
    metrics = trainer.metrics(_sums(trainer, _batch()))
    assert [metrics[f"precision_{i}"] for i in range(3)] == pytest.approx([1 / 2, 2 / 3, 1])
    assert [metrics[f"recall_{i}"] for i in range(3)] == pytest.approx([1 / 2, 1, 1 / 2])


def test_trainer_macro_matches_sklearn_with_absent_class():
    # Class 3 neither occurs nor is predicted, so the macro averages leave it out, as scikit-learn does.
    info = {**INFO, "num_classes": 4, "class_names": ["cat", "dog", "owl", "yak"]}
    trainer = ImageClassificationTrainer(ClassificationOptions(), info)
    images = torch.tensor([row + [-5.0] for row in LOGITS]).view(-1, 4, 1, 1)
    metrics = trainer.metrics(_sums(trainer, (images, torch.tensor(LABELS))))
    predicted = [0, 1, 1, 1, 0, 2]
    assert metrics["macro_precision"] == pytest.approx(precision_score(LABELS, predicted, average="macro"))
    assert metrics["macro_recall"] == pytest.approx(recall_score(LABELS, predicted, average="macro"))


def test_trainer_loss_label_smoothing():
    smoothing = 0.1
    trainer = ImageClassificationTrainer(ClassificationOptions(label_smoothing=smoothing), INFO)
    loss = trainer.loss(nn.Flatten(), _batch())
    # Smoothed target: 1 - smoothing + smoothing / 3 on the label, smoothing / 3 on every other class.
    expected = 0.0
    for row, label in zip(LOGITS, LABELS):
        log_norm = math.log(sum(math.exp(v) for v in row))
        expected += sum(((1 - smoothing) * (j == label) + smoothing / 3) * (log_norm - v) for j, v in enumerate(row))
    assert float(loss) == pytest.approx(expected / 6, rel=1e-6)
    # Evaluation loss stays plain cross-entropy.
    plain = ImageClassificationTrainer(ClassificationOptions(), INFO).loss(nn.Flatten(), _batch())
    assert trainer.metrics(_sums(trainer, _batch()))["loss"] == pytest.approx(float(plain), rel=1e-6)


def test_trainer_loss_trains_real_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3, 3))
    trainer = ImageClassificationTrainer(ClassificationOptions(), INFO)
    loss = trainer.loss(model, _batch())
    loss.backward()
    assert model[1].weight.grad is not None
    assert loss.shape == ()


def test_trainer_top_k_clamped_to_classes(caplog):
    with caplog.at_level(logging.WARNING, logger="zoo_vision.classification"):
        trainer = ImageClassificationTrainer(ClassificationOptions(top_k=5), INFO)
    assert trainer.top_k == 3
    assert caplog.messages == ["train.top_k is 5 but the dataset has 3 classes; reporting top3_accuracy instead"]
    assert trainer.metrics(_sums(trainer, _batch()))["top3_accuracy"] == 1.0


def test_trainer_empty_split_error():
    trainer = ImageClassificationTrainer(ClassificationOptions(), INFO)
    sums = {key: torch.zeros_like(value) for key, value in _sums(trainer, _batch()).items()}
    with pytest.raises(DataError) as error:
        trainer.metrics(sums)
    assert str(error.value) == ("evaluation saw no images because the split is empty; raise data.val_fraction or "
                                "data.test_fraction")


def test_trainer_report_writes_confusion_png(tmp_path):
    trainer = ImageClassificationTrainer(ClassificationOptions(), INFO)
    assert trainer.report(_sums(trainer, _batch()), tmp_path) == {"Confusion matrix": "confusion_matrix.png"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion_matrix.png"]
    with Image.open(tmp_path / "confusion_matrix.png") as image:
        assert image.format == "PNG"
        assert image.width > 200
        assert image.height > 200


def test_trainer_report_many_classes(tmp_path):
    names = [f"class-{i}" for i in range(30)]
    trainer = ImageClassificationTrainer(ClassificationOptions(),
                                         {**INFO, "num_classes": 30, "class_names": names})
    torch.manual_seed(0)
    batch = (torch.randn(100, 30, 1, 1), torch.randint(0, 30, (100,)))
    trainer.report(_sums(trainer, batch), tmp_path)
    with Image.open(tmp_path / "confusion_matrix.png") as image:
        assert image.format == "PNG"
