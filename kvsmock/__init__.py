"""kvsmock: a faithful local emulator of Amazon Kinesis Video Streams.

Importing kvsmock makes moto's ``mock_aws()`` serve KVS from kvsmock.
"""

from .api.moto_glue import install as _install
from .api.moto_glue import mock_kinesisvideo

_install()

__all__ = ["mock_kinesisvideo"]
__version__ = "0.1.0"
