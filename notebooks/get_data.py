"""The data of the 01-local-classification notebook.

AutoML imports this file and calls get_data() *on the compute target* (here: this machine,
in the run's driver process), so the data never passes through the notebook's kernel.
get_data() returns a dict with "X" and "y", and may add "X_valid", "y_valid" and
"sample_weight".

The Wisconsin breast cancer data ships with scikit-learn: 569 tumours, 30 numeric
features, label 0 = malignant, 1 = benign. No network needed.
"""
from sklearn.datasets import load_breast_cancer


def get_data():
    X, y = load_breast_cancer(return_X_y=True)
    return {"X": X, "y": y}
