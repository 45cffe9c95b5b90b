"""kvsmock: a faithful local emulator of Amazon Kinesis Video Streams.

Importing kvsmock makes moto's ``mock_aws()`` serve KVS from kvsmock.
"""

from .api.moto_glue import install as _install
from .api.moto_glue import mock_kinesisvideo
from .client import put_media
from .api.usage_report import usage
from .media import read_fragments, sample_mkv
from .service.faults import faults
from .service.quotas import quotas
from .service.request_log import requests

_install()

__all__ = ["faults", "mock_kinesisvideo", "put_media", "quotas", "read_fragments", "requests", "sample_mkv", "usage"]
__version__ = "0.1.0"
