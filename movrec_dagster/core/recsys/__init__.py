"""The learned recommender: who watched what, in which order, turned into a model that ranks every
movie for a history. No Dagster here.

* `data.py`: interactions (events or ratings) as item indices, per-user sequences and a matrix;
* `models.py`: the components (EASE, a sequential transition model, content, popularity) and
  implicit ALS (measured, see EVALUATION.md);
* `blend.py`: the served blend of the components and its weights, tuned on a validation split
  carved from the training data;
* `artifact.py`: the trained model on disk, versioned by the data it saw, loaded without a restart;
* `evaluate.py`: the offline evaluation (leave-last-out and a global time split).
"""
