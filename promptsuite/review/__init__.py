"""``promptsuite review``: a keyboard-driven page where a person labels judged outputs.

``_items`` lists what a run's judges judged, each output once, with the label its suite
already has; ``_server`` serves the page (``page.html``) on 127.0.0.1 and saves each answer
to the suite's labels file (:mod:`promptsuite.labels`). The grader's verdict and reason
reach the page only once the person has answered, so they cannot anchor the answer.
"""

from promptsuite.review._items import ReviewItem, ReviewQueue
from promptsuite.review._server import MAX_BODY, ReviewServer

__all__ = ["MAX_BODY", "ReviewItem", "ReviewQueue", "ReviewServer"]
