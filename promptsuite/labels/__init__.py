"""People's labels on model-graded checks, and the judges measured against them.

A person reviews outputs (``promptsuite review``) and passes or fails each on each
model-graded check; the verdicts go to a committed file per suite,
``suites/__labels__/SUITE.jsonl`` (``_file``). ``_judged`` lists what the run's judges
(grader model x check type x rubric) judged, keyed as labels are; ``_calibrate`` pairs the
two, reports every label it cannot apply in one located line, and measures each judge
(kappa and its interval from :mod:`promptsuite.agreement`), and says which verdicts rest
on a judge that is not trusted. ``_references`` turns people's passing outputs into
reference answers with their provenance.
"""

from promptsuite.labels._calibrate import (
    DEFAULT_RESAMPLES,
    DEFAULT_WIDTH,
    CalibrationReport,
    JudgeCalibration,
    calibrate,
    case_rests_on,
    gate_rests_on,
)
from promptsuite.labels._file import (
    LABELS_DIR,
    LABELS_VERSION,
    Label,
    LabelKey,
    LabelsFile,
    PlacedLabel,
    labels_path,
    read_labels,
    save_label,
    utc_now,
)
from promptsuite.labels._judged import Judge, JudgedOutput, check_names, judge_of, judged_outputs
from promptsuite.labels._references import (
    LABELLED_BY_A_PERSON,
    LabelledReference,
    labelled_references,
)

__all__ = [
    "DEFAULT_RESAMPLES",
    "DEFAULT_WIDTH",
    "LABELLED_BY_A_PERSON",
    "LABELS_DIR",
    "LABELS_VERSION",
    "CalibrationReport",
    "Judge",
    "JudgeCalibration",
    "JudgedOutput",
    "Label",
    "LabelKey",
    "LabelledReference",
    "LabelsFile",
    "PlacedLabel",
    "calibrate",
    "case_rests_on",
    "check_names",
    "gate_rests_on",
    "judge_of",
    "judged_outputs",
    "labelled_references",
    "labels_path",
    "read_labels",
    "save_label",
    "utc_now",
]
