"""From a trained model to a new earthquake: train and save a model, predict on new data.

:func:`fit_model` trains a registered model on a QuakeSet file and writes it in the ``.skq``
format of :func:`skquake.models.save_model` with its test metrics, for any QuakeSet task of the
benchmark (:data:`QUAKESET_TASKS`: detection, magnitude, change, epicentre); :func:`predict_file`
streams a saved model's predictions on a QuakeSet file to a CSV file (and a change model's masks
to an HDF5 file). The commands are ``skquake fit`` and ``skquake predict``.
"""
from ._fit import QUAKESET_TASKS, fit_model, split_half_width
from ._predict import predict_file
from ._scene import predict_scene, predict_scene_arrays

__all__ = ["QUAKESET_TASKS", "fit_model", "predict_file", "predict_scene", "predict_scene_arrays",
           "split_half_width"]
