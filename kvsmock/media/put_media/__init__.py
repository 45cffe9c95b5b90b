"""PutMedia's media side: the fragmenter that cuts an uploaded MKV body into fragments, and what it reports.

:class:`~.fragmenter.Fragmenter` is the state machine, its events are in
:mod:`.events`, the ACK error ids in :mod:`.error_ids`, the limits in
:mod:`.limits`, and the checks on one Cluster in :mod:`.cluster`.
"""

from __future__ import annotations

from .error_ids import ErrorId
from .events import Event, Fragment, FragmentComplete, FragmentStarted, FragmentTags, HeaderParsed, MediaError
from .fragmenter import Fragmenter
from .limits import Limits

__all__ = [
    "ErrorId",
    "Event",
    "Fragment",
    "FragmentComplete",
    "FragmentStarted",
    "FragmentTags",
    "Fragmenter",
    "HeaderParsed",
    "Limits",
    "MediaError",
]
